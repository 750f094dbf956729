import { Link } from "react-router";

export function NotFound() {
  return (
    <div className="state state--empty page">
      <h1>Page not found</h1>
      <p>There is nothing at this address.</p>
      <Link to="/" className="btn btn--primary">
        Go to the dashboard
      </Link>
    </div>
  );
}
