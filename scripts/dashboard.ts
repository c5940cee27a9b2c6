// `npm run dashboard`: writes the Grafana dashboard built in docker/grafana/dashboard.ts to the JSON file that
// Grafana's provisioning loads. Run it after changing the dashboard; a unit test fails while the two differ.
import { writeFileSync } from 'node:fs';
import { DASHBOARD_FILE, dashboardJson } from '../docker/grafana/dashboard';

writeFileSync(DASHBOARD_FILE, dashboardJson());
console.log(`wrote ${DASHBOARD_FILE}`);
