// Module resolve hook: '@aws-appsync/utils' -> the local stand-in (node:module register()).
const STANDIN = new URL('./appsync_utils_standin.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === '@aws-appsync/utils') {
    return { url: STANDIN, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
