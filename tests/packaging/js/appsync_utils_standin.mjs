// A small stand-in for '@aws-appsync/utils' (the real package ships types only; the runtime `util`
// exists only inside AppSync). Covers what agent_presence.js uses: util.unauthorized() (and
// util.error()), which in AppSync end the handler and reject the request. Here they throw a
// recognisable error so a test can tell allow from deny.

export class UnauthorizedError extends Error {
  constructor() {
    super('Unauthorized');
    this.name = 'UnauthorizedError';
    this.errorType = 'Unauthorized';
  }
}

export class HandlerError extends Error {
  constructor(message, errorType) {
    super(message);
    this.name = 'HandlerError';
    this.errorType = errorType ?? null;
  }
}

export const util = {
  unauthorized() {
    throw new UnauthorizedError();
  },
  error(message, errorType) {
    throw new HandlerError(message, errorType);
  },
};
