// The crash children acknowledge on stdout with the command line's synchronous writer.
export { writeStdoutSync } from '../../src/cli/output.ts'
