// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target: the signalling protocol's parser (gst/rtcstream/
// protocol.h), both ways. Any text gets a message or an Error, never a crash
// or an exception; a message that parses serializes to text that parses to
// the same message (the server and the elements re-serialize what they relay).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "rtcstream/protocol.h"

namespace p = rtcstream::protocol;

namespace {

template <typename Message>
void
round_trip (const p::ParseResult<Message> &first,
    p::ParseResult<Message> (*parse) (std::string_view, const p::Limits &))
{
  if (!first.ok ()) {
    if (first.error.details.empty ())
      abort ();  // a refusal always says why
    return;
  }
  const std::string text = p::serialize (*first.message);
  // What we serialize may exceed the limits only if the input did not.
  p::Limits loose;
  loose.max_message_bytes = text.size () + 1;
  const p::ParseResult<Message> second = parse (text, loose);
  if (!second.ok () || p::serialize (*second.message) != text)
    abort ();
}

}  // namespace

extern "C" int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const std::string_view text (reinterpret_cast<const char *> (data), size);
  round_trip (p::parse_client_message (text), &p::parse_client_message);
  round_trip (p::parse_server_message (text), &p::parse_server_message);
  return 0;
}
