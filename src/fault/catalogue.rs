//! The rule catalogue `wstap record --fault help` prints.

/// Every trigger, action and option of the rule language, with examples.
pub const CATALOGUE: &str = "\
A fault rule is DIR TRIGGER ACTION [OPTION...], words separated by spaces,
strings in double quotes. Rules apply per connection; each trigger but
`every` fires once per connection. Full guide: docs/faults.md.

DIR
  c2s                 the client's frames (towards the server)
  s2c                 the server's frames (towards the client)

TRIGGER
  frame=N             the Nth frame of DIR (from 1, control frames included)
  message=N           the Nth text or binary message (all its frames, for drop)
  first=OPCODE        the first frame of text, binary, continuation, close,
                      ping, pong or 0-15
  text=\"STRING\"       the first text frame whose payload contains STRING
  bytes=N             the frame during which DIR's WebSocket bytes pass N
  after=DURATION      the first frame starting DURATION after the connection
                      opened (250ms, 2s, 100us)
  every               every frame

ACTION
  drop                do not forward the frame
  delay=DURATION      forward it DURATION late (later frames of DIR wait too)
  cut=fin|rst         forward the header and half the payload (at=N: N payload
                      bytes; with bytes=N: up to byte N), then FIN towards the
                      receiver, or RST both sides
  rst                 reset both sides instead of forwarding the frame
  fin                 close the receiver's side (FIN) instead of forwarding it
  hold                forward nothing more, not even the sender's FIN, until
                      the other direction ends (\"never answered\")
  close-code=CODE     replace a close frame's code (none: an empty close, which
                      the receiver reads as 1005); reason=\"...\" sets its reason
  inject-before=FRAME write FRAME before the frame
  inject-after=FRAME  write FRAME after the frame
  slice=N             write the frame in pieces of N bytes; gap=DURATION
                      between pieces; aligned starts a piece at each frame

FRAME (for inject)
  ping[:TEXT] pong[:TEXT] close[:CODE[:REASON]] text:TEXT binary:HEX raw:HEX

OPTION
  p=PROB seed=N       the rule applies to a connection with probability PROB,
                      drawn from the seed and the connection's number: the same
                      seed faults the same connections
  reason=\"...\"        (close-code) at=N (cut) gap=DURATION aligned (slice)

EXAMPLES
  wstap record --fault 's2c first=close drop'            the close reply is lost
  wstap record --fault 's2c first=close close-code=1011'
  wstap record --fault 's2c message=3 rst'
  wstap record --fault 's2c bytes=32768 cut=rst'
  wstap record --fault 'c2s first=close hold'            the close is never answered
  wstap record --fault 's2c every slice=1'
  wstap record --fault 's2c first=text rst p=0.5 seed=7'
  wstap record --faults faults.yaml                      a YAML list of rules
";
