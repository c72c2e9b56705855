// Every page builds its DOM with lit-html's `html` (and `svg`) tagged templates, never with strings:
// each ${value} becomes a text node or an attribute value and is never parsed as markup, so a hostile
// customer name shows as text and there is no esc() call to forget.
// Why lit-html rather than a tagged template of our own: it is small (7 KB), BSD-3-Clause, maintained
// by Google's Lit team and used widely; it also keeps the DOM between renders (the wallboard renders on
// every call event) and binds events with @click=${fn} (addEventListener: no inline handlers, so the
// pages run under a CSP of script-src 'self'). We vendor no unsafeHTML/unsafeSVG directive: raw markup
// cannot be inserted from these pages at all. Attribute values are not URL-checked: bind no href/src
// from data.
export {html, nothing, render, svg} from "../vendor/lit-html/lit-html.js";
export {repeat} from "../vendor/lit-html/directives/repeat.js";
