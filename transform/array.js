// AssemblyScript transform: `@array(N) name: T` in an @unmanaged class lays out N consecutive
// elements of scalar type T inline, as C's `T name[N]` does. AssemblyScript has no inline arrays
// (class-typed fields are pointers), so the transform expands the declaration after parsing into
// the field `name` (element 0, so `offsetof<C>("name")` is the array's offset) followed by
// hidden fields `__name_1 .. __name_{N-1}`. Layout, alignment and `offsetof<C>()` (the size)
// then match C exactly. Any consumer compiling the SDK's assembly/xen modules needs this
// transform: add `"transform": ["xenwasm/transform"]` to the asconfig options.
import { Transform } from "assemblyscript/transform";
import { Node, NodeKind, DiagnosticCode } from "assemblyscript";

const SCALARS = new Set(["u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64", "f32", "f64", "usize", "isize", "bool"]);

/** Expands `@array(N)` fields of every parsed class into N inline scalar fields. */
export default class InlineArrayTransform extends Transform {
  afterParse(parser) {
    for (const source of parser.sources) {
      if (source.sourceKind > 1 /* library sources cannot use @array */) continue;
      for (const stmt of source.statements) visit(this, stmt);
    }
  }
}

function visit(t, stmt) {
  if (stmt.kind === NodeKind.ClassDeclaration) expandClass(t, stmt);
  else if (stmt.kind === NodeKind.Export && false) return;
  else if (stmt.kind === NodeKind.NamespaceDeclaration) for (const m of stmt.members) visit(t, m);
}

function expandClass(t, cls) {
  const out = [];
  for (const member of cls.members) {
    const deco = member.kind === NodeKind.FieldDeclaration && member.decorators
      ? member.decorators.find((d) => d.name.kind === NodeKind.Identifier && d.name.text === "array")
      : undefined;
    if (!deco) { out.push(member); continue; }
    const fail = (why) => { t.log ? null : null; throw new Error(`${member.range.source.normalizedPath}: @array on ${cls.name.text}.${member.name.text}: ${why}`); };
    const arg = deco.args && deco.args.length === 1 ? deco.args[0] : null;
    if (!arg || arg.kind !== NodeKind.Literal || arg.literalKind !== 1 /* Integer */) fail("expects one integer literal, e.g. @array(16)");
    const count = Number(arg.value);
    if (!(count >= 1)) fail("count must be at least 1");
    const type = member.type;
    const typeName = type && type.kind === NodeKind.NamedType && !type.name.next ? type.name.identifier.text : "";
    if (!SCALARS.has(typeName) || (type.typeArguments && type.typeArguments.length)) fail(`element type must be a scalar (${[...SCALARS].join(", ")})`);
    member.decorators = member.decorators.filter((d) => d !== deco);
    if (member.decorators.length === 0) member.decorators = null;
    out.push(member);
    for (let i = 1; i < count; i++) {
      const r = member.range;
      out.push(Node.createFieldDeclaration(
        Node.createIdentifierExpression(`__${member.name.text}_${i}`, r),
        null, member.flags,
        Node.createNamedType(Node.createSimpleTypeName(typeName, r), null, false, r),
        null, r));
    }
  }
  cls.members = out;
}
