// AssemblyScript transform: `@array(N) name: T` in an @unmanaged class lays out N consecutive
// elements of scalar type T (or a scalar alias such as grant_ref_t) inline, as C's `T name[N]` does. AssemblyScript has no inline arrays
// (class-typed fields are pointers), so the transform expands the declaration after parsing into
// the field `name` (element 0, so `offsetof<C>("name")` is the array's offset) followed by
// hidden fields `__name_1 .. __name_{N-1}`. Layout, alignment and `offsetof<C>()` (the size)
// then match C exactly. Any consumer compiling the SDK's assembly/xen modules needs this
// transform: add `"transform": ["xenwasm/transform"]` to the asconfig options.
import { Transform } from "assemblyscript/transform";
import { Node, NodeKind } from "assemblyscript";

/** Expands `@array(N)` fields of every parsed class into N inline scalar fields. */
export default class InlineArrayTransform extends Transform {
  afterParse(parser) {
    // Class names: an array of a class type would be an array of 4-byte pointers, not structs.
    const classes = new Set();
    const collect = (stmt) => {
      if (stmt.kind === NodeKind.ClassDeclaration) classes.add(stmt.name.text);
      else if (stmt.kind === NodeKind.NamespaceDeclaration) stmt.members.forEach(collect);
    };
    const expand = (stmt) => {
      if (stmt.kind === NodeKind.ClassDeclaration) expandClass(stmt, classes);
      else if (stmt.kind === NodeKind.NamespaceDeclaration) stmt.members.forEach(expand);
    };
    for (const source of parser.sources) source.statements.forEach(collect);
    for (const source of parser.sources) source.statements.forEach(expand);
  }
}

function expandClass(cls, classes) {
  const out = [];
  for (const member of cls.members) {
    const deco = member.kind === NodeKind.FieldDeclaration && member.decorators
      ? member.decorators.find((d) => d.name.kind === NodeKind.Identifier && d.name.text === "array")
      : undefined;
    if (!deco) { out.push(member); continue; }
    const fail = (why) => { throw new Error(`${member.range.source.normalizedPath}: @array on ${cls.name.text}.${member.name.text}: ${why}`); };
    const arg = deco.args && deco.args.length === 1 ? deco.args[0] : null;
    if (!arg || arg.kind !== NodeKind.Literal || arg.literalKind !== 1 /* Integer */) fail("expects one integer literal, e.g. @array(16)");
    const count = Number(arg.value);
    if (!(count >= 1)) fail("count must be at least 1");
    const type = member.type;
    const typeName = type && type.kind === NodeKind.NamedType && !type.name.next ? type.name.identifier.text : "";
    if (!typeName || classes.has(typeName) || (type.typeArguments && type.typeArguments.length)) {
      fail("element type must be a scalar or a scalar type alias (class fields are pointers)");
    }
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
