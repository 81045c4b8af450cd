/**
 * Go text/template execution over GoValues. A Template is parsed once and executed many times
 * (once per row or inspected object). Semantics follow Go's exec.go: methods before fields,
 * pointers followed, missing map keys per `missingkey`, map ranges in sorted key order,
 * `and`/`or` short-circuit, and errors worded like Go's:
 *   template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type types.NetworkResource
 */
import { printActionValue } from './gofmt';
import {
  assignable, bool, fieldAt, findField, float, type FuncMap, type GoFunc, GoCallError, type GoType, type GoValue,
  indirect, int, INVALID, isTrue, methodsOf, NIL_IFACE, sortedKeys, str, typeName, zeroValue,
} from './govalue';
import { BUILTINS, DOCKER_FUNCS } from './template-funcs';
import {
  type ArgNode, type BranchNode, type ChainNode, type CommandNode, errorLocation, type FieldNode, type IdentifierNode,
  type ListNode, type Node, nodeString, type NumberNode, parseTemplate, type PipeNode, TemplateError, type VariableNode,
} from './template-parse';

export { TemplateError } from './template-parse';

/** An execution error; `output` is what had been written before it (Go keeps partial output). */
export class TemplateExecError extends TemplateError {
  override name = 'TemplateExecError';
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
  }
}

/** What a missing map key yields: `<no value>` (default), the element's zero value, or an error. */
export type MissingKey = 'default' | 'zero' | 'error';

export interface ExecuteOptions {
  missingKey?: MissingKey;
  /** Replaces functions of the same name (the docker CLI's header functions do this). */
  funcs?: FuncMap;
}

/** The docker CLI's template: Go's builtins plus json, split, join, title, lower, upper, pad, truncate. */
export const DOCKER_TEMPLATE_FUNCS: FuncMap = new Map([...BUILTINS, ...DOCKER_FUNCS]);

export class Template {
  private constructor(
    readonly text: string,
    private readonly root: ListNode,
    private readonly funcs: FuncMap,
  ) {}

  /** Parses `text`; throws TemplateError with Go's parse error text. */
  static parse(text: string, funcs: FuncMap = DOCKER_TEMPLATE_FUNCS): Template {
    return new Template(text, parseTemplate(text, (name) => funcs.has(name)), funcs);
  }

  /** Executes with `data` as dot; throws TemplateExecError (carrying the partial output). */
  execute(data: GoValue, opts: ExecuteOptions = {}): string {
    const funcs = opts.funcs ? new Map([...this.funcs, ...opts.funcs]) : this.funcs;
    const state = new ExecState(this.text, funcs, opts.missingKey ?? 'default', data);
    state.walk(data, this.root);
    return state.output();
  }
}

const MISSING = Symbol('missing argument');
type Final = GoValue | typeof MISSING;

class LoopSignal {
  constructor(readonly kind: 'break' | 'continue') {}
}

type Located = Node | ArgNode | CommandNode;

class ExecState {
  private readonly out: string[] = [];
  private readonly vars: { name: string; value: GoValue }[];
  private node: Located | undefined;

  constructor(
    private readonly text: string,
    private readonly funcs: FuncMap,
    private readonly missingKey: MissingKey,
    data: GoValue,
  ) {
    this.vars = [{ name: '$', value: data }];
  }

  output(): string {
    return this.out.join('');
  }

  private at(node: Located): void {
    this.node = node;
  }

  private errorf(msg: string): never {
    const where = this.node
      ? `template: ${errorLocation(this.text, this.node.pos)}: executing "" at <${nodeString(this.node)}>: `
      : 'template: : ';
    throw new TemplateExecError(where + msg, this.output());
  }

  // --- variables ---
  private mark(): number {
    return this.vars.length;
  }
  private pop(mark: number): void {
    this.vars.length = mark;
  }
  private setVar(name: string, value: GoValue): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]!.name === name) {
        this.vars[i]!.value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }
  private setTopVar(n: number, value: GoValue): void {
    this.vars[this.vars.length - n]!.value = value;
  }
  private varValue(name: string): GoValue {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    return this.errorf(`undefined variable: ${name}`);
  }

  // --- walking ---
  walk(dot: GoValue, node: Node): void {
    this.at(node);
    switch (node.type) {
      case 'list':
        for (const n of node.nodes) this.walk(dot, n);
        return;
      case 'text':
        this.out.push(node.text);
        return;
      case 'action': {
        const val = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) {
          this.at(node);
          this.out.push(printActionValue(val));
        }
        return;
      }
      case 'if':
      case 'with':
        return this.walkIfOrWith(dot, node);
      case 'range':
        return this.walkRange(dot, node);
      case 'break':
      case 'continue':
        throw new LoopSignal(node.type);
    }
  }

  private walkIfOrWith(dot: GoValue, node: BranchNode): void {
    const mark = this.mark();
    try {
      const val = this.evalPipeline(dot, node.pipe);
      if (isTrue(val)) this.walk(node.type === 'with' ? val : dot, node.list);
      else if (node.elseList) this.walk(dot, node.elseList);
    } finally {
      this.pop(mark);
    }
  }

  private walkRange(dot: GoValue, node: BranchNode): void {
    this.at(node);
    const outer = this.mark();
    try {
      const { value: val } = indirect(this.evalPipeline(dot, node.pipe));
      const mark = this.mark();
      /** Returns false on {{break}}. */
      const oneIteration = (index: GoValue, elem: GoValue): boolean => {
        if (node.pipe.decl.length > 0) this.setTopVar(1, elem);
        if (node.pipe.decl.length > 1) this.setTopVar(2, index);
        try {
          this.walk(elem, node.list);
        } catch (e) {
          if (!(e instanceof LoopSignal)) throw e;
          if (e.kind === 'break') return false;
        } finally {
          this.pop(mark);
        }
        return true;
      };
      switch (val.kind) {
        case 'slice':
          if (val.items !== null && val.items.length > 0) {
            for (const [i, item] of val.items.entries()) if (!oneIteration(int(i), item)) break;
            return;
          }
          break;
        case 'map':
          if (val.entries !== null && val.entries.size > 0) {
            for (const k of sortedKeys(val.entries)) if (!oneIteration(str(k, val.type.key), val.entries.get(k)!)) break;
            return;
          }
          break;
        case 'invalid':
        case 'interface':
          break; // a nil map or a missing value acts like an empty map
        default:
          this.errorf(`range can't iterate over ${printActionValue(val)}`);
      }
      if (node.elseList) this.walk(dot, node.elseList);
    } finally {
      this.pop(outer);
    }
  }

  // --- evaluation ---
  private evalPipeline(dot: GoValue, pipe: PipeNode): GoValue {
    this.at(pipe);
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, value);
      // A nil interface{} result is "no value", as reflect.ValueOf(nil) in Go.
      if (value.kind === 'interface') value = INVALID;
    }
    const result = value === MISSING ? INVALID : value;
    for (const v of pipe.decl) {
      if (pipe.isAssign) this.setVar(v.ident[0]!, result);
      else this.vars.push({ name: v.ident[0]!, value: result });
    }
    return result;
  }

  private notAFunction(args: ArgNode[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.errorf(`can't give argument to non-function ${nodeString(args[0]!)}`);
  }

  private evalCommand(dot: GoValue, cmd: CommandNode, final: Final): GoValue {
    const first = cmd.args[0]!;
    switch (first.type) {
      case 'field':
        return this.evalFieldNode(dot, first, cmd.args, final);
      case 'chain':
        return this.evalChainNode(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariableNode(dot, first, cmd.args, final);
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case 'bool':
        return bool(first.value);
      case 'dot':
        return dot;
      case 'nil':
        return this.errorf('nil is not a command');
      case 'number':
        return this.idealConstant(first);
      case 'string':
        return str(first.text);
    }
  }

  private idealConstant(n: NumberNode): GoValue {
    this.at(n);
    const hexInt = /^[+-]?0[xX]/.test(n.text) && !/[pP]/.test(n.text);
    const runeInt = n.text.startsWith("'");
    if (n.isFloat && !hexInt && !runeInt && /[.eEpP]/.test(n.text)) return float(n.float);
    if (n.isInt) return int(n.int);
    return this.errorf(`${n.text} overflows int`);
  }

  private evalFieldNode(dot: GoValue, field: FieldNode, args: ArgNode[], final: Final): GoValue {
    this.at(field);
    return this.evalFieldChain(dot, dot, field, field.ident, args, final);
  }

  private evalChainNode(dot: GoValue, chain: ChainNode, args: ArgNode[], final: Final): GoValue {
    this.at(chain);
    if (chain.node.type === 'nil') this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const receiver = this.evalArg(dot, undefined, chain.node);
    return this.evalFieldChain(dot, receiver, chain, chain.fields, args, final);
  }

  private evalVariableNode(dot: GoValue, v: VariableNode, args: ArgNode[], final: Final): GoValue {
    this.at(v);
    const value = this.varValue(v.ident[0]!);
    if (v.ident.length === 1) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, v, v.ident.slice(1), args, final);
  }

  private evalFieldChain(dot: GoValue, receiver: GoValue, node: Located, ident: string[], args: ArgNode[], final: Final): GoValue {
    let cur = receiver;
    for (const name of ident.slice(0, -1)) cur = this.evalField(dot, name, node, [], MISSING, cur);
    return this.evalField(dot, ident[ident.length - 1]!, node, args, final, cur);
  }

  private evalField(dot: GoValue, name: string, node: Located, args: ArgNode[], final: Final, receiver: GoValue): GoValue {
    if (receiver.kind === 'invalid') {
      if (this.missingKey === 'error') this.errorf(`nil data; no entry for key "${name}"`);
      return INVALID;
    }
    const typ = typeName(receiver.type);
    const { value: r, isNil } = indirect(receiver);
    if (r.kind === 'interface') this.errorf(`nil pointer evaluating ${typ}.${name}`);
    const method = methodsOf(r)?.[name];
    if (method) {
      const bound: GoFunc = { params: method.params, call: (a) => method.call(r, a) };
      return this.evalCall(dot, bound, node, name, args, final);
    }
    const hasArgs = args.length > 1 || final !== MISSING;
    switch (r.kind) {
      case 'struct': {
        const path = findField(r.type, name);
        if (!path) break;
        if (hasArgs) this.errorf(`${name} has arguments but cannot be invoked as function`);
        const v = fieldAt(r, path);
        return v === 'nil' ? this.errorf(`nil pointer evaluating ${typ}.${name}`) : v;
      }
      case 'map': {
        if (r.type.key.name !== 'string') break; // a field name is a string, not e.g. a nat.Port
        if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
        const v = r.entries?.get(name);
        if (v !== undefined) return v;
        if (this.missingKey === 'error') this.errorf(`map has no entry for key "${name}"`);
        return this.missingKey === 'zero' ? zeroValue(r.type.elem) : INVALID;
      }
      case 'ptr': {
        const elem = r.type.elem;
        if (elem.kind === 'struct' && !findField(elem, name)) break; // "can't evaluate" rather than "nil pointer"
        if (isNil) this.errorf(`nil pointer evaluating ${typ}.${name}`);
      }
    }
    return this.errorf(`can't evaluate field ${name} in type ${typ}`);
  }

  private evalFunction(dot: GoValue, node: IdentifierNode, cmd: Located, args: ArgNode[], final: Final): GoValue {
    this.at(node);
    const f = this.funcs.get(node.name);
    if (!f) return this.errorf(`"${node.name}" is not a defined function`);
    return this.evalCall(dot, f, cmd, node.name, args, final);
  }

  /** `args` includes the function/field node itself first, as in Go. */
  private evalCall(dot: GoValue, f: GoFunc, node: Located, name: string, args: ArgNode[], final: Final): GoValue {
    const argNodes = args.slice(1);
    const numIn = argNodes.length + (final !== MISSING ? 1 : 0);
    let numFixed = argNodes.length;
    if (f.variadic) {
      numFixed = f.params.length;
      if (numIn < numFixed) this.errorf(`wrong number of args for ${name}: want at least ${f.params.length} got ${argNodes.length}`);
    } else if (numIn !== f.params.length) {
      this.errorf(`wrong number of args for ${name}: want ${f.params.length} got ${numIn}`);
    }

    if (f.shortCircuit) {
      let v: GoValue = INVALID;
      for (const a of argNodes) {
        v = this.evalArg(dot, f.params[0], a);
        if (isTrue(v) === (f.shortCircuit === 'or')) return v;
      }
      if (final !== MISSING) v = this.validateType(final, f.params[0]);
      return v;
    }

    const argv: GoValue[] = [];
    let i = 0;
    for (; i < numFixed && i < argNodes.length; i++) argv.push(this.evalArg(dot, f.params[i], argNodes[i]!));
    if (f.variadic) for (; i < argNodes.length; i++) argv.push(this.evalArg(dot, f.variadic, argNodes[i]!));
    if (final !== MISSING) {
      const t = f.variadic ? (numIn - 1 < numFixed ? f.params[numIn - 1]! : f.variadic) : f.params[f.params.length - 1]!;
      argv.push(this.validateType(final, t));
    }
    try {
      return f.call(argv);
    } catch (e) {
      if (!(e instanceof GoCallError)) throw e;
      this.at(node);
      return this.errorf(`error calling ${name}: ${e.message}`);
    }
  }

  /** Checks that a value can be passed as `type` (undefined: no constraint). */
  private validateType(value: GoValue, type: GoType | undefined): GoValue {
    if (type === undefined) return value;
    if (value.kind === 'invalid') {
      if (type.kind === 'interface') return NIL_IFACE;
      if (type.kind === 'ptr' || type.kind === 'slice' || type.kind === 'map') return zeroValue(type);
      return this.errorf(`invalid value; expected ${typeName(type)}`);
    }
    if (type.kind === 'interface') return value;
    if (value.kind === 'interface') return this.errorf(`wrong type for value; expected ${typeName(type)}; got interface {}`);
    if (assignable(value.type, type)) return value;
    if (value.kind === 'ptr' && assignable(value.type.elem, type)) {
      return value.elem ?? this.errorf(`dereference of nil pointer of type ${typeName(type)}`);
    }
    if (type.kind === 'ptr' && assignable(value.type, type.elem)) return { kind: 'ptr', type, elem: value };
    return this.errorf(`wrong type for value; expected ${typeName(type)}; got ${typeName(value.type)}`);
  }

  private evalArg(dot: GoValue, type: GoType | undefined, n: ArgNode): GoValue {
    this.at(n);
    switch (n.type) {
      case 'dot':
        return this.validateType(dot, type);
      case 'nil':
        if (type && (type.kind === 'interface' || type.kind === 'ptr' || type.kind === 'slice' || type.kind === 'map')) return zeroValue(type);
        return this.errorf(`cannot assign nil to ${type ? typeName(type) : 'untyped nil'}`);
      case 'field':
        return this.validateType(this.evalFieldNode(dot, n, [n], MISSING), type);
      case 'variable':
        return this.validateType(this.evalVariableNode(dot, n, [], MISSING), type);
      case 'pipe':
        return this.validateType(this.evalPipeline(dot, n), type);
      case 'identifier':
        return this.validateType(this.evalFunction(dot, n, n, [n], MISSING), type);
      case 'chain':
        return this.validateType(this.evalChainNode(dot, n, [], MISSING), type);
    }
    const t = type ?? NIL_IFACE.type;
    switch (t.kind) {
      case 'bool':
        return n.type === 'bool' ? { kind: 'bool', type: t, value: n.value } : this.errorf(`expected bool; found ${nodeString(n)}`);
      case 'float64':
        return n.type === 'number' && n.isFloat ? float(n.float) : this.errorf(`expected float; found ${nodeString(n)}`);
      case 'int':
        return n.type === 'number' && n.isInt ? int(n.int, t) : this.errorf(`expected integer; found ${nodeString(n)}`);
      case 'string':
        return n.type === 'string' ? str(n.text, t) : this.errorf(`expected string; found ${nodeString(n)}`);
      case 'interface':
        if (n.type === 'bool') return bool(n.value);
        if (n.type === 'number') return this.idealConstant(n);
        return str(n.text);
    }
    return this.errorf(`can't handle ${nodeString(n)} for arg of type ${typeName(t)}`);
  }
}
