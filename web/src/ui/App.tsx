// The application shell (placeholder while the UI is built).
export function App() {
  return <main data-testid="task-list">caic</main>;
}
