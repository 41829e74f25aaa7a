import { render } from 'preact';
import { App } from './app';
import { loadConfig } from './config';
import './styles.css';

const root = document.getElementById('app')!;
loadConfig()
  .then((config) => render(<App config={config} />, root))
  .catch((e: unknown) => {
    root.textContent = `Rollcall cannot start: ${e instanceof Error ? e.message : String(e)}`;
  });
