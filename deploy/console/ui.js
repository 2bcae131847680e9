// Small DOM helpers: build elements, show problems and progress in words, format money and sizes.

/** h("p", {class: "x", onclick: f}, "text", child) → an element; attributes starting with "on" are listeners. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

let fieldCount = 0;

/** A labelled control: <label for=id>text</label><input id=id ...>; returns [wrapper, control]. */
export function field(text, control, hint) {
  const id = control.id || `field-${++fieldCount}`;
  control.id = id;
  const parts = [h("label", { for: id }, text), control];
  if (hint) {
    const hintId = `${id}-hint`;
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("small", { id: hintId, class: "hint" }, hint));
  }
  return [h("div", { class: "field" }, ...parts), control];
}

/** The page-wide problem banner (role=alert): every error the APIs answer is shown here in words. */
export function showProblem(error) {
  const banner = document.getElementById("problem");
  const words = typeof error === "string" ? error : error?.message || String(error);
  banner.replaceChildren(h("strong", {}, "Something went wrong: "), words);
  banner.hidden = false;
}

export function clearProblem() {
  const banner = document.getElementById("problem");
  banner.hidden = true;
  banner.replaceChildren();
}

/** The polite status line (role=status): what is happening now. */
export function say(words) {
  document.getElementById("status").textContent = words;
}

/** Run an action from a button or form; its error, if any, goes to the banner in words. */
export async function attempt(action, button) {
  clearProblem();
  if (button) button.disabled = true;
  try {
    return await action();
  } catch (error) {
    showProblem(error);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

export function money(cents, currency) {
  if (!cents) return "Free";
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

export function bytes(count) {
  const units = ["bytes", "KB", "MB", "GB"];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A heading that receives focus when a page opens, so keyboard and screen-reader users start there. */
export function heading(text) {
  return h("h1", { tabindex: "-1", id: "page-title" }, text);
}

/** A progress bar with a visible label and words for screen readers. */
export function progressBar(labelText) {
  const id = `progress-${++fieldCount}`;
  const bar = h("progress", { id, max: 100, value: 0 });
  const words = h("span", { class: "progress-words", "aria-live": "polite" }, "");
  const wrapper = h("div", { class: "progress" }, h("label", { for: id }, labelText), bar, words);
  return {
    element: wrapper,
    set(percent, text) {
      bar.value = Math.max(0, Math.min(100, percent));
      words.textContent = text ?? `${percent.toFixed(0)} %`;
    },
  };
}
