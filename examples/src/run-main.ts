import { pathToFileURL } from 'node:url';

/** Run `main` when this module is the program (`node --import tsx file.ts`), not when imported. */
export function runIfMain(meta: ImportMeta, main: () => Promise<unknown>): void {
  const entry = process.argv[1];
  if (entry && meta.url === pathToFileURL(entry).href) {
    main().then(
      (result) => {
        if (result !== undefined) console.log(result);
      },
      (err: unknown) => {
        console.error(err);
        process.exitCode = 1;
      },
    );
  }
}
