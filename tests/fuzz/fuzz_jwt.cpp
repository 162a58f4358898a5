// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target: the token reader of rtcstream-signalling (signalling/
// auth.h). Any bytes as a JWT get a verdict with a reason, never a crash, and
// never "ok" unless signed with the key; a token that verifies keeps its
// claims when minted again. The scope reader, the bearer header and the
// origin check see the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "auth.h"

namespace sig = rtcstream::signalling;

namespace {

const std::string kSecret = "fuzzing-secret-of-at-least-32-bytes";
constexpr std::int64_t kNow = 1800000000;

}  // namespace

extern "C" int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const std::string text (reinterpret_cast<const char *> (data), size);
  const sig::JwtResult r = sig::verify_jwt (text, kSecret, kNow);
  if (!r.ok () && r.problem.empty ())
    abort ();  // a refusal always says why
  if (r.ok ()) {
    // Only a token signed with the key verifies, and what it says survives
    // minting it again.
    const std::string again = sig::mint_jwt (r.claims.scopes, kSecret, kNow,
        r.claims.expires_s, r.claims.not_before_s, r.claims.subject);
    const sig::JwtResult r2 = sig::verify_jwt (again, kSecret, kNow);
    if (!r2.ok () || sig::scopes_text (r2.claims.scopes) != sig::scopes_text (r.claims.scopes))
      abort ();
  }
  // The token with its signature recomputed: the claims reader behind it.
  const std::size_t dot = text.rfind ('.');
  if (dot != std::string::npos) {
    const std::string part = text.substr (0, dot);
    const std::string resigned = part + "." + sig::base64url_encode (
        sig::hmac_digest (G_CHECKSUM_SHA256, kSecret, part));
    const sig::JwtResult r3 = sig::verify_jwt (resigned, kSecret, kNow);
    if (!r3.ok () && r3.problem.empty ())
      abort ();
  }
  std::string problem;
  auto scopes = sig::parse_scopes (text, &problem);
  if (!scopes && problem.empty ())
    abort ();
  if (scopes) {
    sig::Access a;
    a.open[0] = a.open[1] = a.open[2] = false;
    a.has_token = true;
    a.scopes = *scopes;
    a.check (sig::Action::Watch, text, kNow);
    a.may_see (text, kNow);
  }
  if (auto decoded = sig::base64url_decode (text)) {
    if (sig::base64url_decode (sig::base64url_encode (*decoded)) != decoded)
      abort ();
  }
  sig::bearer_token (text.c_str ());
  sig::OriginPolicy ().allows (text.c_str (), "127.0.0.1:8443");
  return 0;
}
