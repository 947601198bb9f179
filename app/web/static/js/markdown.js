// Markdown of descriptions and comments, rendered in the browser and sanitised before it
// reaches the page: what an author writes never runs. Raw HTML in the source is shown as
// text (marked would pass it through); DOMPurify then keeps only the elements Markdown
// makes, drops unsafe URLs (javascript:, data: links), and every link opens apart from
// this page (rel="noopener noreferrer"). The result is a DOM fragment, never innerHTML.
import { Marked } from "../vendor/marked.esm.js";
import DOMPurify from "../vendor/purify.es.mjs";

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escape = (text) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]);

const marked = new Marked({
  gfm: true,
  breaks: true, // a line break in a comment is one, as on GitHub
  renderer: {
    html: ({ text }) => escape(text),
    // The page has its own h1 and h2: an author's headings sit below them.
    heading({ tokens, depth }) {
      const level = Math.min(6, depth + 2);
      return `<h${level}>${this.parser.parseInline(tokens)}</h${level}>\n`;
    },
  },
});

const ALLOWED_TAGS = ["p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "input", "a",
  "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td", "img"];
const ALLOWED_ATTR = ["href", "title", "src", "alt", "type", "checked", "disabled", "class", "start", "align"];

DOMPurify.addHook("uponSanitizeElement", (node, data) => {
  // Task lists are the only inputs Markdown makes: read-only checkboxes.
  if (data.tagName === "input" && node.getAttribute("type") !== "checkbox") node.remove();
});
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("rel", "noopener noreferrer");
    node.setAttribute("target", "_blank");
  } else if (node.tagName === "INPUT") {
    node.setAttribute("disabled", "");
  } else if (node.hasAttribute("class") && !/^language-[\w-]+$/.test(node.getAttribute("class"))) {
    node.removeAttribute("class"); // only a code block's language
  }
});

// A DocumentFragment of the rendered, sanitised Markdown.
export function renderMarkdown(source) {
  const html = marked.parse(source || "", { async: false });
  return DOMPurify.sanitize(html, { ALLOWED_TAGS, ALLOWED_ATTR, RETURN_DOM_FRAGMENT: true });
}
