// SPDX-License-Identifier: LGPL-2.1-or-later
#include "retransmission.h"

#include <algorithm>

namespace rtcstream {

const char *
verdict_name (RetransmissionBudget::Verdict v)
{
  switch (v) {
    case RetransmissionBudget::Verdict::Send:
      return "send";
    case RetransmissionBudget::Verdict::Unknown:
      return "unknown";
    case RetransmissionBudget::Verdict::TooOld:
      return "too old";
    case RetransmissionBudget::Verdict::TooSoon:
      return "resent less than half a round trip ago";
    default:
      return "over budget";
  }
}

void
RetransmissionBudget::set_link (uint32_t estimate_bps, double rtt_ms)
{
  estimate_bps_ = estimate_bps;
  rtt_ms_ = rtt_ms;
}

void
RetransmissionBudget::on_sent (uint32_t ssrc, uint16_t seq, uint32_t bytes, int64_t now_us)
{
  Slot &s = slots_[seq % kSlots];
  s.ssrc = ssrc;
  s.seq = seq;
  s.used = true;
  s.bytes = bytes;
  s.sent_us = s.first_us = now_us;
}

void
RetransmissionBudget::forget_before (int64_t now_us)
{
  while (!window_.empty () && window_.front ().first <= now_us - 1000000) {
    window_bytes_ -= window_.front ().second;
    window_.pop_front ();
  }
}

int64_t
retransmission_horizon_us (double rtt_ms)
{
  return std::max<int64_t> (1000000, rtt_ms > 0 ? static_cast<int64_t> (3000 * rtt_ms) : 0);
}

RetransmissionBudget::Verdict
RetransmissionBudget::on_request (uint32_t ssrc, uint16_t seq, int64_t now_us)
{
  requests_++;
  Slot &s = slots_[seq % kSlots];
  if (!s.used || s.ssrc != ssrc || s.seq != seq)
    return Verdict::Unknown;
  const double rtt_us = (rtt_ms_ > 0 ? rtt_ms_ : kDefaultRttMs) * 1000;
  if (now_us - s.first_us > retransmission_horizon_us (rtt_us / 1000))
    return Verdict::TooOld;
  if (s.sent_us != s.first_us && now_us - s.sent_us < kResendRtt * rtt_us)
    return Verdict::TooSoon;
  forget_before (now_us);
  const uint32_t bytes = s.bytes + kRtxHeaderBytes;
  if ((window_bytes_ + bytes) * 8 > kShare * estimate_bps_)
    return Verdict::OverBudget;
  window_.emplace_back (now_us, bytes);
  window_bytes_ += bytes;
  s.sent_us = now_us;
  resent_++;
  return Verdict::Send;
}

std::vector<RetransmissionBudget::Packet>
RetransmissionBudget::recent (int64_t now_us, int64_t max_age_us, size_t n) const
{
  std::vector<const Slot *> young;
  for (const Slot &s : slots_)
    if (s.used && now_us - s.first_us <= max_age_us && s.first_us <= now_us)
      young.push_back (&s);
  std::sort (young.begin (), young.end (), [] (const Slot *a, const Slot *b) {
    return a->bytes != b->bytes ? a->bytes > b->bytes : a->first_us > b->first_us;
  });
  std::vector<Packet> out;
  for (size_t i = 0; i < young.size () && i < n; i++)
    out.push_back ({young[i]->ssrc, young[i]->seq, young[i]->bytes});
  return out;
}

uint32_t
RetransmissionBudget::bps (int64_t now_us)
{
  forget_before (now_us);
  return (uint32_t) (window_bytes_ * 8);
}

}  // namespace rtcstream
