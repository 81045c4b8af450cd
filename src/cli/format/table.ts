/**
 * List output as the docker CLI's formatter.Context writes it: the `table` directive (a header
 * row, then rows aligned by Go's tabwriter configured as `NewWriter(out, 10, 1, 3, ' ', 0)`),
 * `json` (one `{{json .}}` per line), or a plain template with one line per item.
 */
import { CnmError } from '../../errors';
import type { GoValue } from './govalue';
import { DOCKER_TEMPLATE_FUNCS, Template, TemplateError, TemplateExecError } from './template';
import { HEADER_FUNCS } from './template-funcs';

export interface TabwriterOptions {
  /** Minimal cell width, padding included. */
  minwidth: number;
  /** Spaces added to the widest cell of a column. */
  padding: number;
}

/** The docker CLI's settings. */
export const DOCKER_TABWRITER: TabwriterOptions = { minwidth: 10, padding: 3 };

interface Cell {
  text: string;
  width: number;
}

/**
 * Go's text/tabwriter (elastic tabstops) with space padding: tab-terminated cells of adjacent
 * lines form a column whose width is max(minwidth, widest cell + padding); the text after a
 * line's last tab belongs to no column and is not padded. Widths count code points.
 */
export function tabwrite(text: string, opts: TabwriterOptions = DOCKER_TABWRITER): string {
  const lines: Cell[][] = text.split('\n').map((line) => line.split('\t').map((t) => ({ text: t, width: [...t].length })));
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      let s = '';
      lines[i]!.forEach((c, j) => {
        s += c.text;
        if (j < widths.length) s += ' '.repeat(Math.max(widths[j]! - c.width, 0));
      });
      out.push(s);
    }
  };

  /** Lays out lines [line0, line1) given the widths of the columns left of `widths.length`. */
  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let cur = line0; cur < line1; cur++) {
      if (column >= lines[cur]!.length - 1) continue;
      // A block of adjacent lines that all have a cell in this column starts here.
      writeLines(line0, cur);
      line0 = cur;
      let width = opts.minwidth;
      for (; cur < line1; cur++) {
        const line = lines[cur]!;
        if (column >= line.length - 1) break;
        width = Math.max(width, line[column]!.width + opts.padding);
      }
      widths.push(width);
      format(line0, cur);
      widths.pop();
      line0 = cur;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out.join('\n');
}

/** Parses a format; Docker reports any template error as "Template parsing error: ...". */
export function parseFormat(text: string): Template {
  try {
    return Template.parse(text, DOCKER_TEMPLATE_FUNCS);
  } catch (e) {
    throw templateError(e);
  }
}

export function templateError(e: unknown): unknown {
  return e instanceof TemplateError ? new CnmError('invalid', `Template parsing error: ${e.message}`) : e;
}

/**
 * formatter.Context.Write: `format` is the final format string (after the command chose its
 * default); `header` is the header context; each row is a Go value the template runs on.
 */
export function writeList(format: string, header: GoValue, rows: GoValue[]): string {
  const isTable = format.startsWith('table');
  let text = isTable ? format.slice('table'.length) : format === 'json' ? '{{json .}}' : format;
  text = text.replace(/^ +| +$/g, '').replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const tmpl = parseFormat(text);
  let body = '';
  for (const row of rows) {
    try {
      body += `${tmpl.execute(row)}\n`;
    } catch (e) {
      throw templateError(e);
    }
  }
  if (!isTable) return body;
  return tabwrite(`${headerLine(tmpl, header)}\n${body}`);
}

/** Docker ignores errors while rendering the header and keeps what was written before them. */
function headerLine(tmpl: Template, header: GoValue): string {
  try {
    return tmpl.execute(header, { funcs: HEADER_FUNCS });
  } catch (e) {
    if (e instanceof TemplateExecError) return e.output;
    throw e;
  }
}
