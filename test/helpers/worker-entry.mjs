// Worker threads do not inherit the TypeScript loader: register it, then run the .ts script
// named in workerData.script.
import { register } from 'tsx/esm/api'
import { workerData } from 'node:worker_threads'

register()
await import(workerData.script)
