/** The repository root: the runner's source (measured), models/, deployments/, .oracle-data/. */
import * as path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
