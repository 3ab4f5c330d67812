import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';
import { finiteKeyword } from './schemas.js';

/**
 * The validators of requests. A querystring and the path parameters arrive as text, so their
 * numbers and booleans are converted before they are checked ("10" is n = 10), as fastify does by
 * default; a JSON body already has types, and its values are taken as sent: "12" or true where a
 * number belongs is a 400 naming the field, not 12 or 1. fastify's own validator converts every
 * part alike, hence two instances here. Both otherwise as fastify's (defaults filled in, unknown
 * properties of an object that allows none removed, first error only: all errors of a crafted
 * body would cost time), with the x-finite keyword and the shared shapes.
 */
export function requestValidators(sharedSchemas: readonly AnySchema[]): FastifySchemaCompiler<AnySchema> {
  const make = (coerceTypes: 'array' | false) => {
    const ajv = new Ajv({
      coerceTypes,
      useDefaults: true,
      removeAdditional: true,
      addUsedSchema: false,
      allErrors: false,
    });
    finiteKeyword(ajv);
    for (const schema of sharedSchemas) ajv.addSchema(schema);
    return ajv;
  };
  const text = make('array');
  const json = make(false);
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? json : text;
    const id = (schema as { $id?: unknown }).$id;
    // a schema with an $id is compiled once per instance (ajv refuses the same $id twice)
    const known = typeof id === 'string' ? ajv.getSchema(id) : undefined;
    return (known ?? ajv.compile(schema)) as ValidateFunction;
  };
}
