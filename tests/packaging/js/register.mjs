// Preloaded with `node --import ./register.mjs`: installs the '@aws-appsync/utils' stand-in.
import { register } from 'node:module';

register('./resolve_appsync_utils.mjs', import.meta.url);
