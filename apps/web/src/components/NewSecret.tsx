import { Button } from "./Button";
import { CopyButton } from "./CopyButton";

/** A signing secret right after it was made: the only time anyone sees it. */
export function NewSecret({
  secret,
  header,
  testId,
  onDone,
}: {
  secret: string;
  /** The signature header the receiver checks with it. */
  header: string;
  testId: string;
  onDone: () => void;
}) {
  return (
    <div className="alert alert--warning" role="status">
      <p>
        Signing secret (shown this once; the receiver needs it to check each request&apos;s{" "}
        <code>{header}</code>):
      </p>
      <p>
        <code className="mono" data-testid={testId}>
          {secret}
        </code>{" "}
        <CopyButton text={secret} label="Copy secret" />
      </p>
      <Button onClick={onDone}>I have stored it</Button>
    </div>
  );
}
