import { buildServices } from './lib/build';

buildServices();
