// UserError: a mistake the user can fix (bad config, port in use); printed as one line, no stack.
export class UserError extends Error {
  override readonly name = 'UserError';
}
