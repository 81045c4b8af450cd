/**
 * Lexer and parser for Go's text/template language (the subset Docker formats use): text,
 * actions, pipelines, `if`/`else if`/`else`, `range` (with `$i, $e :=` and `else`), `with`,
 * `break`/`continue`, variables (`:=`, `=`), parenthesised pipelines, field chains, literals,
 * comments and `{{-`/`-}}` trimming. `define`/`template`/`block` are rejected.
 * Errors read like Go's: `template: :1: function "foo" not defined`.
 */

export class TemplateError extends Error {
  override name = 'TemplateError';
}

type TokType =
  | 'error' | 'bool' | 'char' | 'charConstant' | 'declare' | 'assign' | 'eof' | 'field' | 'identifier'
  | 'leftDelim' | 'leftParen' | 'number' | 'pipe' | 'rawString' | 'string' | 'rightDelim' | 'rightParen'
  | 'space' | 'text' | 'variable'
  // keywords
  | 'dot' | 'block' | 'break' | 'continue' | 'define' | 'else' | 'end' | 'if' | 'nil' | 'range' | 'template' | 'with';

interface Token {
  type: TokType;
  pos: number;
  val: string;
  line: number;
}

const KEYWORDS: Record<string, TokType> = {
  '.': 'dot', block: 'block', break: 'break', continue: 'continue', define: 'define', else: 'else',
  end: 'end', if: 'if', nil: 'nil', range: 'range', template: 'template', with: 'with',
};
const KEYWORD_TYPES = new Set(Object.values(KEYWORDS));

function tokenString(t: Token): string {
  if (t.type === 'eof') return 'EOF';
  if (t.type === 'error') return t.val;
  if (KEYWORD_TYPES.has(t.type)) return `<${t.val}>`;
  const chars = [...t.val];
  if (chars.length > 10) return `${goQuote(chars.slice(0, 10).join(''))}...`;
  return goQuote(t.val);
}

function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** %#U of a rune: U+0040 '@' */
function runeDescription(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  return /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(ch) ? `${hex} '${ch}'` : hex;
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlphaNumeric = (c: string | undefined): boolean => c !== undefined && /^[\p{L}\p{Nd}_]$/u.test(c);

const LEFT = '{{';
const RIGHT = '}}';

function lex(input: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let start = 0;
  let parenDepth = 0;
  const lineAt = (p: number): number => {
    let n = 1;
    for (let i = 0; i < p && i < input.length; i++) if (input[i] === '\n') n++;
    return n;
  };
  const emit = (type: TokType, val = input.slice(start, pos)): void => {
    tokens.push({ type, pos: start, val, line: lineAt(start) });
    start = pos;
  };
  const fail = (msg: string): void => {
    tokens.push({ type: 'error', pos: start, val: msg, line: lineAt(start) });
  };
  const hasLeftTrim = (p: number): boolean => input[p] === '-' && isSpace(input[p + 1]);
  /** At " -}}" (trim) or "}}". */
  const atRightDelim = (p: number): { delim: boolean; trim: boolean } => {
    if (isSpace(input[p]) && input[p + 1] === '-' && input.startsWith(RIGHT, p + 2)) return { delim: true, trim: true };
    return { delim: input.startsWith(RIGHT, p), trim: false };
  };
  const skipSpace = (p: number): number => {
    while (isSpace(input[p])) p++;
    return p;
  };

  // Each branch returns false when lexing must stop (EOF or error).
  const lexText = (): boolean => {
    const x = input.indexOf(LEFT, pos);
    if (x < 0) {
      pos = input.length;
      if (pos > start) emit('text');
      emit('eof', '');
      return false;
    }
    let end = x;
    if (hasLeftTrim(x + LEFT.length)) while (end > start && isSpace(input[end - 1])) end--;
    if (end > start) tokens.push({ type: 'text', pos: start, val: input.slice(start, end), line: lineAt(start) });
    pos = x;
    start = x;
    return lexLeftDelim();
  };

  const lexLeftDelim = (): boolean => {
    pos += LEFT.length;
    const marker = hasLeftTrim(pos) ? 2 : 0;
    if (input.startsWith('/*', pos + marker)) {
      pos += marker;
      start = pos;
      return lexComment();
    }
    emit('leftDelim', LEFT);
    pos += marker;
    start = pos;
    parenDepth = 0;
    return true;
  };

  const lexComment = (): boolean => {
    const x = input.indexOf('*/', pos + 2);
    if (x < 0) {
      fail('unclosed comment');
      return false;
    }
    pos = x + 2;
    const { delim, trim } = atRightDelim(pos);
    if (!delim) {
      fail('comment ends before closing delimiter');
      return false;
    }
    pos += (trim ? 2 : 0) + RIGHT.length;
    if (trim) pos = skipSpace(pos);
    start = pos;
    return lexText();
  };

  const lexRightDelim = (trim: boolean): void => {
    if (trim) pos += 2;
    start = pos;
    pos += RIGHT.length;
    emit('rightDelim');
    if (trim) pos = skipSpace(pos);
    start = pos;
  };

  const scanNumber = (): boolean => {
    if (input[pos] === '+' || input[pos] === '-') pos++;
    let digits = '0123456789_';
    let exp = 'eE';
    if (input[pos] === '0' && /[xXoObB]/.test(input[pos + 1] ?? '')) {
      const base = input[pos + 1]!.toLowerCase();
      digits = base === 'x' ? '0123456789abcdefABCDEF_' : base === 'o' ? '01234567_' : '01_';
      exp = base === 'x' ? 'pP' : '';
      pos += 2;
    }
    const run = (set: string): void => {
      while (pos < input.length && set.includes(input[pos]!)) pos++;
    };
    run(digits);
    if (input[pos] === '.') {
      pos++;
      run(digits);
    }
    if (input[pos] !== undefined && exp.includes(input[pos]!)) {
      pos++;
      if (input[pos] === '+' || input[pos] === '-') pos++;
      run('0123456789_');
    }
    if (input[pos] === 'i') pos++;
    if (isAlphaNumeric(input[pos])) {
      pos++;
      return false;
    }
    return true;
  };

  const atTerminator = (): boolean => {
    const r = input[pos];
    if (r === undefined || isSpace(r)) return true;
    if ('.,|:)('.includes(r)) return true;
    return input.startsWith(RIGHT, pos);
  };

  /** `.Name` / `$name` (the sigil already consumed); a lone sigil is `.` / `$`. */
  const lexFieldOrVariable = (type: 'field' | 'variable'): boolean => {
    if (atTerminator()) {
      emit(type === 'variable' ? 'variable' : 'dot');
      return true;
    }
    while (isAlphaNumeric(input[pos])) pos++;
    if (!atTerminator()) {
      fail(`bad character ${runeDescription(String.fromCodePoint(input.codePointAt(pos)!))}`);
      return false;
    }
    emit(type);
    return true;
  };

  const lexQuoted = (quote: string, what: string): boolean => {
    for (;;) {
      const c = input[pos++];
      if (c === '\\' && quote !== '`') {
        const n = input[pos++];
        if (n !== undefined && n !== '\n') continue;
        fail(`unterminated ${what}`);
        return false;
      }
      if (c === undefined || (c === '\n' && quote !== '`')) {
        fail(`unterminated ${what}`);
        return false;
      }
      if (c === quote) break;
    }
    emit(quote === '"' ? 'string' : quote === '`' ? 'rawString' : 'charConstant');
    return true;
  };

  const lexInsideAction = (): boolean => {
    const { delim, trim } = atRightDelim(pos);
    if (delim) {
      if (parenDepth !== 0) {
        fail('unclosed left paren');
        return false;
      }
      lexRightDelim(trim);
      return lexText();
    }
    const r = input[pos];
    if (r === undefined) {
      fail('unclosed action');
      return false;
    }
    if (isSpace(r)) {
      while (isSpace(input[pos])) pos++;
      // " -}}": leave the last space for the trim marker.
      if (input[pos] === '-' && input.startsWith(RIGHT, pos + 1)) {
        pos--;
        if (pos === start) return true;
      }
      emit('space');
      return true;
    }
    pos++;
    switch (r) {
      case '=':
        emit('assign');
        return true;
      case ':':
        if (input[pos++] !== '=') {
          fail('expected :=');
          return false;
        }
        emit('declare');
        return true;
      case '|':
        emit('pipe');
        return true;
      case '"':
        return lexQuoted('"', 'quoted string');
      case '`':
        return lexQuoted('`', 'raw quoted string');
      case "'":
        return lexQuoted("'", 'character constant');
      case '$':
        return lexFieldOrVariable('variable');
      case '(':
        parenDepth++;
        emit('leftParen');
        return true;
      case ')':
        parenDepth--;
        if (parenDepth < 0) {
          fail('unexpected right paren');
          return false;
        }
        emit('rightParen');
        return true;
    }
    if (r === '.' && !/[0-9]/.test(input[pos] ?? '')) return lexFieldOrVariable('field');
    if (r === '.' || r === '+' || r === '-' || /[0-9]/.test(r)) {
      pos--;
      if (!scanNumber()) {
        fail(`bad number syntax: ${goQuote(input.slice(start, pos))}`);
        return false;
      }
      emit('number');
      return true;
    }
    if (isAlphaNumeric(r)) {
      while (isAlphaNumeric(input[pos])) pos++;
      if (!atTerminator()) {
        fail(`bad character ${runeDescription(String.fromCodePoint(input.codePointAt(pos)!))}`);
        return false;
      }
      const word = input.slice(start, pos);
      emit(KEYWORDS[word] ?? (word === 'true' || word === 'false' ? 'bool' : 'identifier'));
      return true;
    }
    const cp = input.codePointAt(pos - 1)!;
    if (cp < 0x80 && cp >= 0x20 && cp !== 0x7f) {
      emit('char');
      return true;
    }
    fail(`unrecognized character in action: ${runeDescription(String.fromCodePoint(cp))}`);
    return false;
  };

  let inside = lexText();
  while (inside) inside = lexInsideAction();
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Parse tree

export interface ListNode { type: 'list'; pos: number; nodes: Node[] }
export interface TextNode { type: 'text'; pos: number; text: string }
export interface ActionNode { type: 'action'; pos: number; pipe: PipeNode }
export interface BranchNode { type: 'if' | 'range' | 'with'; pos: number; pipe: PipeNode; list: ListNode; elseList?: ListNode }
export interface LoopControlNode { type: 'break' | 'continue'; pos: number }
export type Node = ListNode | TextNode | ActionNode | BranchNode | LoopControlNode;

export interface PipeNode { type: 'pipe'; pos: number; isAssign: boolean; decl: VariableNode[]; cmds: CommandNode[] }
export interface CommandNode { type: 'command'; pos: number; args: ArgNode[] }
export interface FieldNode { type: 'field'; pos: number; ident: string[] }
/** `$x.A.B`: ident is ["$x", "A", "B"]. */
export interface VariableNode { type: 'variable'; pos: number; ident: string[] }
/** `(pipeline).A.B` */
export interface ChainNode { type: 'chain'; pos: number; node: ArgNode; fields: string[] }
export interface IdentifierNode { type: 'identifier'; pos: number; name: string }
export interface DotNode { type: 'dot'; pos: number }
export interface NilNode { type: 'nil'; pos: number }
export interface BoolNode { type: 'bool'; pos: number; value: boolean }
export interface StringNode { type: 'string'; pos: number; quoted: string; text: string }
export interface NumberNode {
  type: 'number';
  pos: number;
  text: string;
  isInt: boolean;
  isFloat: boolean;
  int: number;
  float: number;
}
export type ArgNode =
  | FieldNode | VariableNode | ChainNode | IdentifierNode | DotNode | NilNode | BoolNode | StringNode | NumberNode | PipeNode;

/** Go's String() of a node, used in error messages (`at <.Foo>`). */
export function nodeString(n: ArgNode | CommandNode | Node): string {
  switch (n.type) {
    case 'field':
      return `.${n.ident.join('.')}`;
    case 'variable':
      return n.ident.join('.');
    case 'chain': {
      const inner = n.node.type === 'pipe' ? `(${nodeString(n.node)})` : nodeString(n.node);
      return inner + n.fields.map((f) => `.${f}`).join('');
    }
    case 'identifier':
      return n.name;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(n.value);
    case 'string':
      return n.quoted;
    case 'number':
      return n.text;
    case 'pipe': {
      const decl = n.decl.length > 0 ? `${n.decl.map((v) => nodeString(v)).join(', ')} ${n.isAssign ? '=' : ':='} ` : '';
      return decl + n.cmds.map((c) => nodeString(c)).join(' | ');
    }
    case 'command':
      return n.args.map((a) => (a.type === 'pipe' ? `(${nodeString(a)})` : nodeString(a))).join(' ');
    case 'list':
      return n.nodes.map((x) => nodeString(x)).join('');
    case 'text':
      return n.text;
    case 'action':
      return `{{${nodeString(n.pipe)}}}`;
    case 'if':
    case 'range':
    case 'with': {
      const elseText = n.elseList ? `{{else}}${nodeString(n.elseList)}` : '';
      return `{{${n.type} ${nodeString(n.pipe)}}}${nodeString(n.list)}${elseText}{{end}}`;
    }
    case 'break':
    case 'continue':
      return `{{${n.type}}}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Parser

type ControlEnd = { type: 'end'; pos: number } | { type: 'else'; pos: number };

const GO_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', "'": "'", '"': '"' };

/** strconv.Unquote for "...", `...` and '.' literals. */
function unquote(lit: string): string {
  const q = lit[0];
  const body = lit.slice(1, -1);
  if (q === '`') return body.replace(/\r/g, '');
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === q) throw new Error('invalid syntax');
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) throw new Error('invalid syntax');
    if (e in GO_ESCAPES) {
      if ((e === "'" && q === '"') || (e === '"' && q === "'")) throw new Error('invalid syntax');
      out += GO_ESCAPES[e];
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) throw new Error('invalid syntax');
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff) throw new Error('invalid syntax');
      // \xHH is a byte; bytes >= 0x80 cannot be a JS string on their own, show them as U+FFFD.
      out += e === 'x' && cp >= 0x80 ? '\ufffd' : String.fromCodePoint(cp);
      i += n;
    } else if (/[0-7]/.test(e)) {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct)) throw new Error('invalid syntax');
      const b = parseInt(oct, 8);
      if (b > 255) throw new Error('invalid syntax');
      out += b >= 0x80 ? '\ufffd' : String.fromCharCode(b);
      i += 2;
    } else throw new Error('invalid syntax');
  }
  return out;
}

function parseInteger(text: string): number | undefined {
  const t = text.replace(/^\+/, '');
  const neg = t.startsWith('-');
  const u = neg ? t.slice(1) : t;
  let m: RegExpExecArray | null;
  let value: number | undefined;
  if ((m = /^0[xX]_?([0-9a-fA-F]+(?:_[0-9a-fA-F]+)*)$/.exec(u))) value = parseInt(m[1]!.replace(/_/g, ''), 16);
  else if ((m = /^0[oO]_?([0-7]+(?:_[0-7]+)*)$/.exec(u))) value = parseInt(m[1]!.replace(/_/g, ''), 8);
  else if ((m = /^0[bB]_?([01]+(?:_[01]+)*)$/.exec(u))) value = parseInt(m[1]!.replace(/_/g, ''), 2);
  else if ((m = /^0_?([0-7]+(?:_[0-7]+)*)$/.exec(u))) value = parseInt(m[1]!.replace(/_/g, ''), 8);
  else if (/^[1-9](?:_?[0-9])*$|^0$/.test(u)) value = Number(u.replace(/_/g, ''));
  if (value === undefined || !Number.isSafeInteger(value)) return undefined;
  return neg ? -value : value;
}

function parseFloatLiteral(text: string): number | undefined {
  if (!/^[+-]?(?:\d(?:_?\d)*\.?(?:\d(?:_?\d)*)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/.test(text)) return undefined;
  return Number(text.replace(/_/g, ''));
}

class Parser {
  private i = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  private last: Token;
  private actionLine = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly hasFunction: (name: string) => boolean,
  ) {
    this.last = tokens[0]!;
  }

  private next(): Token {
    const t = this.tokens[Math.min(this.i, this.tokens.length - 1)]!;
    this.i++;
    this.last = t;
    return t;
  }
  private backup(): void {
    this.i--;
  }
  private peek(): Token {
    return this.tokens[Math.min(this.i, this.tokens.length - 1)]!;
  }
  private nextNonSpace(): Token {
    let t = this.next();
    while (t.type === 'space') t = this.next();
    return t;
  }
  private peekNonSpace(): Token {
    const t = this.nextNonSpace();
    this.backup();
    return t;
  }

  private errorf(msg: string): never {
    throw new TemplateError(`template: :${this.last.line}: ${msg}`);
  }
  private unexpected(t: Token, context: string): never {
    if (t.type === 'error') {
      let extra = '';
      if (this.actionLine !== 0 && this.actionLine !== t.line) {
        extra = ` in action started at :${this.actionLine}`;
        if (t.val.endsWith(' action')) extra = extra.slice(' in action'.length);
      }
      this.errorf(`${t.val}${extra}`);
    }
    this.errorf(`unexpected ${tokenString(t)} in ${context}`);
  }
  private expect(type: TokType, context: string): Token {
    const t = this.nextNonSpace();
    if (t.type !== type) this.unexpected(t, context);
    return t;
  }

  parse(): ListNode {
    const root: ListNode = { type: 'list', pos: this.peek().pos, nodes: [] };
    while (this.peek().type !== 'eof') {
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') this.errorf(`unexpected {{${n.type}}}`);
      root.nodes.push(n);
    }
    return root;
  }

  private itemList(): { list: ListNode; end: ControlEnd } {
    const list: ListNode = { type: 'list', pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().type !== 'eof') {
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') return { list, end: n };
      list.nodes.push(n);
    }
    this.next();
    return this.errorf('unexpected EOF');
  }

  private textOrAction(): Node | ControlEnd {
    const t = this.nextNonSpace();
    if (t.type === 'text') return { type: 'text', pos: t.pos, text: t.val };
    if (t.type === 'leftDelim') {
      this.actionLine = t.line;
      try {
        return this.action();
      } finally {
        this.actionLine = 0;
      }
    }
    return this.unexpected(t, 'input');
  }

  private action(): Node | ControlEnd {
    const t = this.nextNonSpace();
    switch (t.type) {
      case 'else':
        return this.elseControl();
      case 'end':
        return { type: 'end', pos: this.expect('rightDelim', 'end').pos };
      case 'if':
        return this.control('if', t.pos);
      case 'range':
        return this.control('range', t.pos);
      case 'with':
        return this.control('with', t.pos);
      case 'break':
      case 'continue':
        return this.loopControl(t);
      case 'define':
      case 'template':
      case 'block':
        return this.errorf(`{{${t.val}}} is not supported in --format templates`);
    }
    this.backup();
    const pos = this.peek().pos;
    return { type: 'action', pos, pipe: this.pipeline('command') };
  }

  private loopControl(t: Token): LoopControlNode {
    const type = t.type as 'break' | 'continue';
    const next = this.nextNonSpace();
    if (next.type !== 'rightDelim') this.unexpected(next, `{{${type}}}`);
    if (this.rangeDepth === 0) this.errorf(`{{${type}}} outside {{range}}`);
    return { type, pos: t.pos };
  }

  private elseControl(): ControlEnd {
    const peek = this.peekNonSpace();
    if (peek.type === 'if') return { type: 'else', pos: peek.pos }; // "else if": the if stays pending
    return { type: 'else', pos: this.expect('rightDelim', 'else').pos };
  }

  private control(type: 'if' | 'range' | 'with', pos: number): BranchNode {
    const mark = this.vars.length;
    const pipe = this.pipeline(type);
    if (type === 'range') this.rangeDepth++;
    let body: { list: ListNode; end: ControlEnd };
    try {
      body = this.itemList();
    } finally {
      if (type === 'range') this.rangeDepth--;
    }
    let elseList: ListNode | undefined;
    if (body.end.type === 'else') {
      if (type === 'if' && this.peek().type === 'if') {
        this.next();
        elseList = { type: 'list', pos: body.end.pos, nodes: [this.control('if', body.end.pos)] };
      } else {
        const rest = this.itemList();
        if (rest.end.type !== 'end') this.errorf(`expected end; found {{${rest.end.type}}}`);
        elseList = rest.list;
      }
    }
    this.vars.length = mark;
    return { type, pos, pipe, list: body.list, elseList };
  }

  private pipeline(context: string): PipeNode {
    const pipe: PipeNode = { type: 'pipe', pos: this.peekNonSpace().pos, isAssign: false, decl: [], cmds: [] };
    this.declarations(pipe, context);
    for (;;) {
      const t = this.nextNonSpace();
      switch (t.type) {
        case 'rightDelim':
        case 'rightParen':
          this.checkPipeline(pipe, context);
          if (t.type === 'rightParen') this.backup();
          return pipe;
        case 'bool': case 'charConstant': case 'dot': case 'field': case 'identifier': case 'number':
        case 'nil': case 'rawString': case 'string': case 'variable': case 'leftParen':
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(t, context);
      }
    }
  }

  /** `$x :=`, `$x =`, and in range `$i, $e :=`. */
  private declarations(pipe: PipeNode, context: string): void {
    for (;;) {
      const v = this.peekNonSpace();
      if (v.type !== 'variable') return;
      const start = this.i;
      this.nextNonSpace();
      const next = this.peekNonSpace();
      if (next.type === 'declare' || next.type === 'assign') {
        pipe.isAssign = next.type === 'assign';
        this.nextNonSpace();
        pipe.decl.push({ type: 'variable', pos: v.pos, ident: [v.val] });
        this.vars.push(v.val);
        return;
      }
      if (next.type === 'char' && next.val === ',') {
        this.nextNonSpace();
        pipe.decl.push({ type: 'variable', pos: v.pos, ident: [v.val] });
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const after = this.peekNonSpace().type;
          if (after === 'variable' || after === 'rightDelim' || after === 'rightParen') continue;
          this.errorf('range can only initialize variables');
        }
        this.errorf(`too many declarations in ${context}`);
      }
      this.i = start; // an ordinary variable operand
      return;
    }
  }

  private checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
    pipe.cmds.slice(1).forEach((c, i) => {
      const t = c.args[0]!.type;
      if (t === 'bool' || t === 'dot' || t === 'nil' || t === 'number' || t === 'string') {
        this.errorf(`non executable command in pipeline stage ${i + 2}`);
      }
    });
  }

  private command(): CommandNode {
    const cmd: CommandNode = { type: 'command', pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const t = this.next();
      if (t.type === 'space') continue;
      if (t.type === 'error') this.unexpected(t, 'operand');
      if (t.type === 'rightDelim' || t.type === 'rightParen') this.backup();
      else if (t.type !== 'pipe') this.errorf(`unexpected ${tokenString(t)} in operand`);
      break;
    }
    if (cmd.args.length === 0) this.errorf('empty command');
    return cmd;
  }

  private operand(): ArgNode | undefined {
    const node = this.term();
    if (!node || this.peek().type !== 'field') return node;
    const fields: string[] = [];
    const pos = this.peek().pos;
    while (this.peek().type === 'field') fields.push(this.next().val.slice(1));
    switch (node.type) {
      case 'field':
        return { type: 'field', pos: node.pos, ident: [...node.ident, ...fields] };
      case 'variable':
        return { type: 'variable', pos: node.pos, ident: [...node.ident, ...fields] };
      case 'bool': case 'string': case 'number': case 'nil': case 'dot':
        return this.errorf(`unexpected . after term ${goQuote(nodeString(node))}`);
      default:
        return { type: 'chain', pos, node, fields };
    }
  }

  private term(): ArgNode | undefined {
    const t = this.nextNonSpace();
    switch (t.type) {
      case 'error':
        return this.unexpected(t, 'operand');
      case 'identifier':
        if (!this.hasFunction(t.val)) this.errorf(`function ${goQuote(t.val)} not defined`);
        return { type: 'identifier', pos: t.pos, name: t.val };
      case 'dot':
        return { type: 'dot', pos: t.pos };
      case 'nil':
        return { type: 'nil', pos: t.pos };
      case 'variable': {
        const ident = t.val.split('.');
        if (!this.vars.includes(ident[0]!)) this.errorf(`undefined variable ${goQuote(ident[0]!)}`);
        return { type: 'variable', pos: t.pos, ident };
      }
      case 'field':
        return { type: 'field', pos: t.pos, ident: [t.val.slice(1)] };
      case 'bool':
        return { type: 'bool', pos: t.pos, value: t.val === 'true' };
      case 'charConstant':
      case 'number':
        return this.number(t);
      case 'leftParen': {
        const pipe = this.pipeline('parenthesized pipeline');
        const close = this.next();
        if (close.type !== 'rightParen') this.errorf(`unclosed right paren: unexpected ${tokenString(close)}`);
        return pipe;
      }
      case 'string':
      case 'rawString':
        try {
          return { type: 'string', pos: t.pos, quoted: t.val, text: unquote(t.val) };
        } catch {
          return this.errorf('invalid syntax');
        }
    }
    this.backup();
    return undefined;
  }

  private number(t: Token): NumberNode {
    const node: NumberNode = { type: 'number', pos: t.pos, text: t.val, isInt: false, isFloat: false, int: 0, float: 0 };
    if (t.type === 'charConstant') {
      let s: string;
      try {
        s = unquote(t.val);
      } catch {
        return this.errorf(`malformed character constant: ${t.val}`);
      }
      const cps = [...s];
      if (cps.length !== 1) this.errorf(`malformed character constant: ${t.val}`);
      const cp = cps[0]!.codePointAt(0)!;
      return { ...node, isInt: true, isFloat: true, int: cp, float: cp };
    }
    if (t.val.endsWith('i')) this.errorf(`complex numbers are not supported: ${goQuote(t.val)}`);
    const i = parseInteger(t.val);
    if (i !== undefined) return { ...node, isInt: true, isFloat: true, int: i, float: i };
    const f = parseFloatLiteral(t.val);
    if (f === undefined || !Number.isFinite(f)) return this.errorf(`illegal number syntax: ${goQuote(t.val)}`);
    const integral = Number.isSafeInteger(f);
    return { ...node, isFloat: true, float: f, isInt: integral, int: integral ? f : 0 };
  }
}

/** Parses a template; `hasFunction` decides which identifiers are known functions. */
export function parseTemplate(text: string, hasFunction: (name: string) => boolean): ListNode {
  return new Parser(lex(text), hasFunction).parse();
}

/** Byte column (Go counts bytes) and line of a position, for `template: :LINE:COL:` contexts. */
export function errorLocation(text: string, pos: number): string {
  const before = text.slice(0, pos);
  const lineStart = before.lastIndexOf('\n') + 1;
  const line = before.split('\n').length;
  return `:${line}:${Buffer.byteLength(before.slice(lineStart), 'utf8')}`;
}
