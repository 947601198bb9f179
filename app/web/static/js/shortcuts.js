// Single-key shortcuts of a page. They stay out of the way while the user types in a field,
// and `?` shows the page's list of them (a <dialog> in the page's template).
const TYPING = new Set(["INPUT", "TEXTAREA", "SELECT"]);

export function typingIn(el) {
  return !!el && (TYPING.has(el.tagName) || el.isContentEditable);
}

// `keys`: {key: (event) => handled?}. A handler that returns false lets the key through.
export function bindKeys(keys, dialog) {
  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typingIn(e.target)) return;
    if (dialog && dialog.open) return;
    if (e.key === "?" && dialog) {
      e.preventDefault();
      dialog.showModal();
      return;
    }
    const handler = keys[e.key];
    if (handler && handler(e) !== false) e.preventDefault();
  });
}
