// Loaded before every test file when FC_SEED is set (scripts/run-tests.mjs): every fc.assert
// of the files given runs with the seed a failure printed, so the same values come back, the
// counterexample among them, without editing the test. (fast-check takes `path`, which would
// skip straight to it, only per assertion, not globally; the seed alone reproduces the run.)
import fc from 'fast-check'

const seed = Number(process.env['FC_SEED'])
if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED must be the integer seed a failure printed, got '${process.env['FC_SEED']}'`)
fc.configureGlobal({ seed })
