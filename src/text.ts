/**
 * A peer's text made safe to show: a terminal acts on control characters (`ESC ]0;title BEL`
 * sets its title, `ESC [2J` clears it), so these are shown escaped, never written as they are.
 */

/** C0 controls but the tab, DEL, and the C1 controls (which some terminals act on too). */
const controls = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g

const hex = (char: string): string => char.charCodeAt(0).toString(16).padStart(2, "0")

/** `text` with its control characters (the tab aside) written as `\xHH`. */
export const printable = (text: string): string => text.replace(controls, (char) => `\\x${hex(char)}`)

/** `text` in double quotes, escaped as JSON is, and with DEL and the C1 controls escaped too. */
export const quote = (text: string): string =>
  JSON.stringify(text).replace(/[\x7f-\x9f]/g, (char) => `\\u00${hex(char)}`)
