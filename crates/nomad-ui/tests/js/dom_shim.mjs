// A small stand-in for the browser's DOM, enough to run the UI's modules
// under Node (no browser on the build machines): elements with children,
// attributes, classes, styles, events, text, simple selectors, dialogs,
// history and storage. It renders nothing; tests read the tree's text.

class Node extends EventTarget {
  constructor() {
    super();
    this.parentNode = null;
    this.childNodes = [];
  }
  get textContent() { return this.childNodes.map((c) => c.textContent).join(''); }
  set textContent(v) { this.replaceChildren(); if (v !== '') this.appendChild(new Text(String(v))); }
  appendChild(c) {
    if (c.parentNode) c.parentNode.removeChild(c);
    c.parentNode = this;
    this.childNodes.push(c);
    return c;
  }
  removeChild(c) {
    const i = this.childNodes.indexOf(c);
    if (i >= 0) this.childNodes.splice(i, 1);
    c.parentNode = null;
    return c;
  }
  append(...cs) { for (const c of cs) this.appendChild(typeof c === 'string' ? new Text(c) : c); }
  replaceChildren(...cs) { for (const c of [...this.childNodes]) this.removeChild(c); this.append(...cs); }
  remove() { if (this.parentNode) this.parentNode.removeChild(this); }
  get isConnected() { let n = this; while (n.parentNode) n = n.parentNode; return n === globalThis.document; }
}

class Text extends Node {
  constructor(t) { super(); this.data = t; }
  get textContent() { return this.data; }
  set textContent(v) { this.data = String(v); }
}

class ClassList {
  constructor(el) { this.el = el; }
  get list() { return this.el.className.split(/\s+/).filter(Boolean); }
  contains(c) { return this.list.includes(c); }
  add(c) { if (!this.contains(c)) this.el.className = [...this.list, c].join(' '); }
  remove(c) { this.el.className = this.list.filter((x) => x !== c).join(' '); }
  toggle(c, on) { const want = on === undefined ? !this.contains(c) : on; if (want) this.add(c); else this.remove(c); return want; }
}

class Element extends Node {
  constructor(tag) {
    super();
    this.tagName = tag.toUpperCase();
    this.attributes = new Map();
    this.className = '';
    this.style = {};
    this.dataset = {};
    this.classList = new ClassList(this);
    this.value = '';
    this.checked = false;
    this.disabled = false;
    this.open = false;
    this.scrollTop = 0;
    this.scrollHeight = 0;
    this.clientHeight = 0;
  }
  get type() { return this.attributes.get('type') || (this.tagName === 'INPUT' ? 'text' : ''); }
  set type(v) { this.attributes.set('type', v); }
  get id() { return this.attributes.get('id') || ''; }
  setAttribute(k, v) {
    if (k === 'class') this.className = String(v);
    else if (k === 'style') throw new Error('style attributes are blocked by the page\'s CSP; set el.style instead');
    else this.attributes.set(k, String(v));
    if (k === 'checked') this.checked = true;
    if (k === 'disabled') this.disabled = true;
  }
  getAttribute(k) { return k === 'class' ? this.className : (this.attributes.has(k) ? this.attributes.get(k) : null); }
  hasAttribute(k) { return this.attributes.has(k); }
  removeAttribute(k) { this.attributes.delete(k); }
  get children() { return this.childNodes.filter((c) => c instanceof Element); }
  focus() { globalThis.document.activeElement = this; }
  scrollIntoView() {}
  showModal() {
    if (!this.isConnected) throw new Error('showModal on a dialog outside the document');
    this.open = true;
  }
  close() { this.open = false; this.dispatchEvent(new Event('close')); }
  click() {
    // One event, dispatched on the element and then on each ancestor (bubbling).
    const ev = new Event('click', { bubbles: true, cancelable: true });
    Object.defineProperty(ev, 'target', { value: this });
    ev.button = 0;
    for (let n = this; n; n = n.parentNode) {
      EventTarget.prototype.dispatchEvent.call(n, ev);
      if (ev.cancelBubble) break;
    }
  }
  matches(sel) { return sel.split(',').some((s) => matchOne(this, s.trim())); }
  closest(sel) { let n = this; while (n instanceof Element) { if (n.matches(sel)) return n; n = n.parentNode; } return null; }
  querySelectorAll(sel) { const out = []; walk(this, (n) => { if (n !== this && n.matches(sel)) out.push(n); }); return out; }
  querySelector(sel) { return this.querySelectorAll(sel)[0] || null; }
}

function walk(n, fn) {
  for (const c of n.childNodes) {
    if (c instanceof Element) { fn(c); walk(c, fn); }
  }
}

// Selectors: tag, .class, #id, [attr], [attr="v"], [attr^="v"] and combinations (no descendants).
function matchOne(el, sel) {
  const re = /^([a-zA-Z0-9]*)((?:[.#][\w-]+|\[[^\]]+\])*)$/;
  const m = re.exec(sel);
  if (!m) throw new Error(`unsupported selector ${sel}`);
  if (m[1] && el.tagName !== m[1].toUpperCase()) return false;
  for (const part of m[2].match(/[.#][\w-]+|\[[^\]]+\]/g) || []) {
    if (part[0] === '.') { if (!el.classList.contains(part.slice(1))) return false; }
    else if (part[0] === '#') { if (el.id !== part.slice(1)) return false; }
    else {
      const a = /^\[([\w-]+)(?:(\^?=)"([^"]*)")?\]$/.exec(part);
      if (!a) throw new Error(`unsupported selector ${sel}`);
      const name = a[1];
      const v = name.startsWith('data-')
        ? el.dataset[name.slice(5).replace(/-([a-z])/g, (_, c) => c.toUpperCase())] ?? el.getAttribute(name)
        : el.getAttribute(name);
      if (v === null || v === undefined) return false;
      if (a[2] === '=' && v !== a[3]) return false;
      if (a[2] === '^=' && !String(v).startsWith(a[3])) return false;
    }
  }
  return true;
}

class Document extends Node {
  constructor() {
    super();
    this.hidden = false;
    this.title = '';
    this.activeElement = null;
    this.documentElement = this.appendChild(new Element('html'));
    this.body = this.documentElement.appendChild(new Element('body'));
  }
  createElement(tag) { return new Element(tag); }
  createTextNode(t) { return new Text(t); }
  getElementById(id) { let found = null; walk(this, (n) => { if (!found && n.id === id) found = n; }); return found; }
  querySelectorAll(sel) { const out = []; walk(this, (n) => { if (n.matches(sel)) out.push(n); }); return out; }
  querySelector(sel) { return this.querySelectorAll(sel)[0] || null; }
}

class Storage {
  constructor() { this.m = new Map(); }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
  removeItem(k) { this.m.delete(k); }
}

/**
 * Installs the globals. `base` is the agent's URL: requests to `/v1/…`
 * go there. Returns helpers for tests.
 */
export function install(base, startPath = '/ui/') {
  const document = new Document();
  const location = new URL(startPath, base);
  const win = new EventTarget();
  const realFetch = globalThis.fetch;
  Object.assign(win, {
    location: {
      get pathname() { return location.pathname; },
      get search() { return location.search; },
      get href() { return location.href; },
    },
    history: {
      pushState(_s, _t, href) { const u = new URL(href, location); location.pathname = u.pathname; location.search = u.search; },
      replaceState(_s, _t, href) { const u = new URL(href, location); location.pathname = u.pathname; location.search = u.search; },
    },
    scrollTo() {},
  });
  const requests = [];
  const globals = {
    window: win,
    document,
    Node,
    Element,
    HTMLElement: Element,
    location: win.location,
    history: win.history,
    localStorage: new Storage(),
    sessionStorage: new Storage(),
    scrollTo: () => {},
    addEventListener: win.addEventListener.bind(win),
    removeEventListener: win.removeEventListener.bind(win),
    dispatchEvent: win.dispatchEvent.bind(win),
    fetch: (url, init) => {
      requests.push({ url: String(url), method: (init && init.method) || 'GET' });
      return realFetch(new URL(url, base), init);
    },
  };
  for (const [k, v] of Object.entries(globals)) {
    Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  }
  // The document as index.html builds it.
  const el = (tag, attrs = {}, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'dataset') Object.assign(e.dataset, v); else e.setAttribute(k, v);
    }
    e.append(...kids);
    return e;
  };
  document.body.append(
    el('header', { class: 'topbar' },
      el('nav', { id: 'nav' }, ...['jobs', 'clients', 'servers', 'topology', 'evaluations'].map((s) => el('a', { href: `/ui/${s}`, dataset: { section: s } }, s))),
      el('select', { id: 'namespace' }),
      el('a', { id: 'token-link', href: '/ui/settings/tokens', dataset: { section: 'settings' } }, 'ACL token')),
    el('main', { id: 'view' }),
  );
  return {
    document,
    requests,
    view: () => document.getElementById('view'),
    /** Clicks the first link whose text includes `text`. */
    clickLink(text) {
      const a = document.querySelectorAll('a').find((x) => x.textContent.includes(text));
      if (!a) throw new Error(`no link with text ${JSON.stringify(text)}`);
      a.click();
      return a.getAttribute('href');
    },
  };
}
