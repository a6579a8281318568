/**
 * Component type tokens. A token is `dso-registry:<folder>:<Class>`: the folder of components/ the class
 * lives in and the class's name, so a URN says where its component's code is. Changing one changes the URN
 * of the component and of everything under it: docs/architecture.md, "Resource identity".
 */
import { PROJECT } from "./facts";

/** The type token of the component class `className` in components/`folder`. */
export function typeToken<const Folder extends string, const Class extends string>(
    folder: Folder,
    className: Class,
): `${typeof PROJECT}:${Folder}:${Class}` {
    return `${PROJECT}:${folder}:${className}`;
}
