import { readFileSync } from 'node:fs';

/** The fenced code blocks of the package README in `lang`, verbatim. */
export function readmeBlocks(lang: string): string[] {
  const text = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const blocks: string[] = [];
  const re = new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, 'gm');
  for (let m = re.exec(text); m !== null; m = re.exec(text)) blocks.push(m[1]!);
  return blocks;
}
