// The one way the page builds elements: text from users, the model and the server only ever
// goes in as text nodes (Markdown goes through markdown.js's sanitiser instead).

/** Create an element with a class, text and attributes; never parses HTML. */
export function el(tag, { className, text, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attrs ?? {})) node.setAttribute(name, value);
  node.append(...children);
  return node;
}
