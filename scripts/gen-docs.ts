/**
 * Writes docs/cli.md from the command declarations: the same option specs that parse flags
 * and validate pipeline params render the reference, so the docs cannot drift from the code.
 * Run: node --import tsx scripts/gen-docs.ts   (test/docs.test.ts fails when docs/cli.md is stale)
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { commands } from '../src/commands/index.ts';
import { describeType, kebab, type CommandSpec, type OptionsSpec } from '../src/options.ts';

export function renderCliDoc(list: readonly CommandSpec<any>[] = commands): string {
  const out = [
    '# dprep command reference',
    '',
    'Generated from the command declarations by `node --import tsx scripts/gen-docs.ts`; do not edit by hand.',
    'Every option is both a CLI flag (`--passage-words 100`) and a pipeline step param (`passage-words: 100`).',
    '',
  ];
  for (const cmd of list) {
    out.push(`## \`dprep ${cmd.id.split('.').join(' ')}\``, '', `Pipeline step: \`uses: ${cmd.id}\`. ${cmd.summary}`, '');
    if (cmd.description) out.push('```', cmd.description.trim(), '```', '');
    if (cmd.positional?.length) out.push(`Positional: ${cmd.positional.map((p) => `\`${kebab(p)}\``).join(', ')}`, '');
    out.push('| option | type | default | role | meaning |', '|---|---|---|---|---|');
    for (const [key, opt] of Object.entries(cmd.options as OptionsSpec)) {
      const type = describeType(opt, ' \\| ');
      const def = opt.required ? '**required**' : opt.default !== undefined ? `\`${String(opt.default)}\`` : '';
      out.push(`| \`--${kebab(key)}\` | ${type} | ${def} | ${opt.role ?? ''} | ${opt.help.replace(/\|/g, '\\|')} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(new URL('../docs/cli.md', import.meta.url), renderCliDoc());
  console.log('wrote docs/cli.md');
}
