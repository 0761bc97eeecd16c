// The ACL token: kept in the browser's localStorage and sent with every
// request as X-Nomad-Token.

import { h, section } from '../lib/dom.js';
import { getToken, setToken } from '../lib/api.js';
import { notify } from '../lib/ui.js';

export function mount(ctx) {
  ctx.title('ACL token');
  const input = h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false', value: getToken(), placeholder: 'Secret ID', 'aria-label': 'ACL token secret ID' });
  const show = h('input', { type: 'checkbox' });
  const state = h('p', { class: 'muted' });
  const refresh = () => {
    state.textContent = getToken() ? 'A token is set: every request sends it as X-Nomad-Token.' : 'No token is set: requests are anonymous.';
    window.dispatchEvent(new Event('nomad-token'));
  };
  show.addEventListener('change', () => { input.type = show.checked ? 'text' : 'password'; });
  const form = h('form', { class: 'token-form' },
    h('label', null, h('span', { class: 'label' }, 'Secret ID'), input),
    h('label', { class: 'check' }, show, ' Show'),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'btn', onclick: () => { setToken(''); input.value = ''; refresh(); notify('Token cleared', 'ok'); } }, 'Clear'),
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setToken(input.value.trim());
    refresh();
    notify('Token saved', 'ok');
  });
  refresh();
  ctx.el.append(
    h('header', { class: 'page-header' }, h('h1', null, 'ACL token')),
    section(null,
      h('p', null, 'The token is stored in this browser only (localStorage) and sent to this agent with every API request. ',
        'This agent does not enforce ACLs yet, so any token, or none, is accepted.'),
      form, state));
}
