import { errorMessage } from '../../agent/errors.js';
import { runCameraCli } from './cli.js';

// `npm run camera -- --help`: emulated RTSP cameras for development and demos.
runCameraCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`camera: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  },
);
