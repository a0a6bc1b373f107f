// The CLI's one kind of error for a wrong command line: its message is the whole story, printed
// as one line (`xenwasm: ...`) with exit status 2.

/** An error whose message is the whole story: printed as one line, exit status 2. */
export class UsageError extends Error {}
