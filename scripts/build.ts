import { buildServices } from './lib/build';

buildServices().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
