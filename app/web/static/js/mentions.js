// `@` autocomplete in a textarea: typing `@` and the start of a handle or name lists the
// project's members who match (`/projects/KEY/handles`); ArrowUp/ArrowDown move, Enter or
// Tab puts `@handle ` in the text, Escape closes. The list is an ARIA listbox the textarea
// controls, so a screen reader announces the choice.
import { api } from "./api.js";
import { debounce, h } from "./ui.js";

// `@` then what is typed so far, right before the caret, not glued to a word (an e-mail).
const TYPED = /(?:^|[^A-Za-z0-9_@/.`-])@([A-Za-z0-9_-]{0,32})$/;

export function attachMentions(textarea, projectKey) {
  const box = h("ul", { class: "mention-box", role: "listbox", id: `${textarea.id}-mentions`, hidden: true });
  textarea.after(box);
  textarea.setAttribute("aria-autocomplete", "list");
  textarea.setAttribute("aria-controls", box.id);
  let choices = [];
  let active = 0;
  let asked = 0;

  const close = () => {
    box.hidden = true;
    choices = [];
    textarea.removeAttribute("aria-activedescendant");
  };

  const render = () => {
    box.replaceChildren(...choices.map((c, i) => h("li", {
      role: "option", id: `${box.id}-${i}`, "aria-selected": i === active ? "true" : "false",
      onmousedown: (e) => { e.preventDefault(); choose(i); },
    }, `@${c.handle}`, " ", h("span", { class: "muted" }, c.name))));
    box.hidden = choices.length === 0;
    box.style.left = `${textarea.offsetLeft}px`;
    box.style.top = `${textarea.offsetTop + textarea.offsetHeight}px`;
    if (choices.length) textarea.setAttribute("aria-activedescendant", `${box.id}-${active}`);
  };

  const choose = (i) => {
    const caret = textarea.selectionStart;
    const before = textarea.value.slice(0, caret).replace(/@[A-Za-z0-9_-]*$/, `@${choices[i].handle} `);
    textarea.value = before + textarea.value.slice(caret);
    textarea.setSelectionRange(before.length, before.length);
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
    close();
    textarea.focus();
  };

  const lookUp = debounce(async (typed) => {
    const mine = ++asked;
    try {
      const { data } = await api(`/projects/${projectKey}/handles?${new URLSearchParams({ q: typed, limit: "8" })}`);
      if (mine !== asked) return; // a later keystroke asked again
      choices = data.items;
      active = 0;
      render();
    } catch {
      close();
    }
  }, 120);

  textarea.addEventListener("input", () => {
    const match = TYPED.exec(textarea.value.slice(0, textarea.selectionStart));
    if (match) lookUp(match[1]);
    else { asked++; close(); }
  });
  textarea.addEventListener("keydown", (e) => {
    if (box.hidden || !choices.length) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : choices.length - 1)) % choices.length;
      render();
    } else if (e.key === "Enter" || e.key === "Tab") {
      e.preventDefault();
      choose(active);
    } else if (e.key === "Escape") {
      e.preventDefault();
      close();
    }
  });
  textarea.addEventListener("blur", () => setTimeout(close, 100));
}
