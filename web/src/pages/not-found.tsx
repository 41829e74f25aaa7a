import { Layout } from '../components/layout';

export function NotFoundPage() {
  return (
    <Layout title="Page not found">
      <p>There is no page at this address. <a href="/console">Go to the console</a>.</p>
    </Layout>
  );
}
