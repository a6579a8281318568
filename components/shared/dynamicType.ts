/**
 * The type token the Node.js SDK gives a dynamic resource: `pulumi.dynamic.Resource` joins the module and
 * type it is given as `pulumi-nodejs:dynamic/<module>:<type>`, and URNs and previews name the resource by it.
 */
export const dynamicResourceType = (module: string, type: string) => `pulumi-nodejs:dynamic/${module}:${type}`;
