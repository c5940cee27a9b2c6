// Jest loads global setup and teardown outside its module system, so the @app/* paths need resolving here.
import 'tsconfig-paths/register';
import { stopServices } from '../../scripts/lib/services';

export default async function globalTeardown(): Promise<void> {
  globalThis.__TEST_HARNESS__?.close();
  await stopServices(globalThis.__TEST_CHAIN__ ?? []);
}
