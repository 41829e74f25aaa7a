// Choose an active member: type to search (GET …/users?q=), pick from the matches.
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../app';
import { unwrap, type Schemas } from '../api/client';
import { ErrorNote } from './ui';

export function MemberPicker({
  orgId,
  label,
  value,
  onChange,
  id,
  role,
  exclude = [],
}: {
  orgId: string;
  label: string;
  value: string;
  onChange: (userId: string) => void;
  id: string;
  role?: Schemas['Role'];
  exclude?: string[];
}) {
  const { api } = useApp();
  const [q, setQ] = useState('');
  const [items, setItems] = useState<Schemas['Member'][]>([]);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let stale = false;
    const t = setTimeout(async () => {
      try {
        const r = unwrap(
          await api.GET('/orgs/{org}/users', {
            params: { path: { org: orgId }, query: { status: 'active', q: q.trim() || undefined, role, limit: 50 } },
          }),
        );
        if (!stale) {
          setItems(r.items.filter((m) => !exclude.includes(m.user_id)));
          setError(null);
        }
      } catch (e) {
        if (!stale) setError(e);
      }
    }, 200);
    return () => {
      stale = true;
      clearTimeout(t);
    };
  }, [orgId, q, role]);
  return (
    <div class="picker">
      <label>
        Find {label.toLowerCase()}
        <input type="search" id={`${id}-q`} value={q} placeholder="name or email" onInput={(e) => setQ(e.currentTarget.value)} />
      </label>
      <label>
        {label}
        <select id={id} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
          <option value="">Choose…</option>
          {items.map((m) => (
            <option value={m.user_id} key={m.user_id}>
              {m.name ? `${m.name} <${m.email}>` : m.email}
            </option>
          ))}
        </select>
      </label>
      <ErrorNote error={error} />
    </div>
  );
}
