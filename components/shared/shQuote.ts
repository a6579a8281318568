/** Quotes a string for POSIX sh: the one way every renderer puts a value into shell text. */
export function shQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}
