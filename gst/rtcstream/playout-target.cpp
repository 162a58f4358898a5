// SPDX-License-Identifier: LGPL-2.1-or-later
#include "rtcstream/playout-target.h"

#include <algorithm>

namespace rtcstream {

namespace {

// Retransmission attempts: the share of packets that may be lost for good,
// and the most attempts the target leaves room for.
constexpr double kLostForGood = 2e-4;
constexpr int kMaxAttempts = 5;

constexpr int64_t kDelayBucket = 100 * PlayoutTarget::kMs;
constexpr int64_t kFloorBucket = 1000 * PlayoutTarget::kMs;
constexpr int64_t kPercentileEvery = 5 * PlayoutTarget::kMs;

// 1.25 x: the headroom the target keeps over the need.
int64_t
with_headroom (int64_t need)
{
  return need + need / 4;
}

}  // namespace

PlayoutTarget::PlayoutTarget (unsigned min_ms, unsigned max_ms)
    : min_ms_ (min_ms), max_ms_ (std::max (min_ms, max_ms)), target_ms_ (min_ms)
{
}

unsigned
PlayoutTarget::clamp (int64_t ns) const
{
  int64_t ms = (ns + kMs - 1) / kMs;  // rounded up: never less than the need
  return (unsigned) std::clamp<int64_t> (ms, min_ms_, max_ms_);
}

void
PlayoutTarget::forget (int64_t now)
{
  for (auto *buckets : {&delays_, &reordered_})
    while (!buckets->empty () && buckets->front ().first + kDelayBucket <= now - kWindow)
      buckets->pop_front ();
  while (!in_order_.empty () && in_order_.front ().first <= now - kWindow)
    in_order_.pop_front ();
}

int64_t
PlayoutTarget::largest (const std::deque<std::pair<int64_t, int64_t>> &buckets)
{
  int64_t d = 0;
  for (const auto &b : buckets)
    d = std::max (d, b.second);
  return d;
}

int64_t
PlayoutTarget::in_order_percentile (int64_t now, bool fresh)
{
  if (!fresh && percentile_at_ >= 0 && now >= percentile_at_ &&
      now - percentile_at_ < kPercentileEvery)
    return percentile_;
  percentile_at_ = now;
  percentile_ = 0;
  if (in_order_.empty ())
    return 0;
  scratch_.clear ();
  for (const auto &p : in_order_)
    scratch_.push_back (p.second);
  // The delay that all but kLateInOrderPerMille / 1000 of them stay within
  // (with fewer than 1000 / kLateInOrderPerMille, the largest).
  const size_t skip = scratch_.size () * kLateInOrderPerMille / 1000;
  auto at = scratch_.end () - 1 - skip;
  std::nth_element (scratch_.begin (), at, scratch_.end ());
  percentile_ = *at;
  return percentile_;
}

bool
PlayoutTarget::packet (uint32_t ssrc, int64_t now, uint16_t seq, uint32_t rtp_ts,
    uint32_t clock_rate)
{
  if (clock_rate == 0)
    return false;
  packets_++;
  Stream &s = streams_[ssrc];
  if (s.clock_rate != clock_rate) {  // new, or its codec changed clock: start again
    s = Stream ();
    s.clock_rate = clock_rate;
    s.last_ts = rtp_ts;
    s.since = now;
    s.highest_seq = (uint16_t) (seq - 1);
  }
  // In order: after the highest so far. Overtaken (reordered): before it.
  const bool in_order = (int16_t) (seq - s.highest_seq) > 0;
  if (in_order)
    s.highest_seq = seq;
  // Unwrapped: a packet before the last one (reordered) goes back.
  const int32_t step = (int32_t) (rtp_ts - s.last_ts);
  s.ext_ts += step;
  s.last_ts = rtp_ts;
  // The stream's frame interval: the last step between in-order packets
  // of two timestamps (a frame's last packet lost is noticed only with
  // the next frame's first).
  if (in_order && step > 0)
    s.interval = std::min<int64_t> ((int64_t) step * 1000000000 / clock_rate, kMaxInterval);
  if (now - s.since < kWarmup)
    return false;
  const int64_t transit = now - (int64_t) ((__int128) s.ext_ts * 1000000000 / clock_rate);

  // The stream's floor: the least transit of its last 10 s.
  const int64_t bucket = now - now % kFloorBucket;
  if (s.floors.empty () || s.floors.back ().first != bucket)
    s.floors.emplace_back (bucket, transit);
  else
    s.floors.back ().second = std::min (s.floors.back ().second, transit);
  while (s.floors.front ().first + kFloorBucket <= now - kFloorWindow)
    s.floors.pop_front ();
  int64_t floor = transit;
  for (const auto &f : s.floors)
    floor = std::min (floor, f.second);
  const int64_t delay = transit - floor;

  const int64_t dbucket = now - now % kDelayBucket;
  for (auto *buckets : {&delays_, &reordered_}) {
    if (buckets == &reordered_ && in_order)
      break;
    if (buckets->empty () || buckets->back ().first != dbucket)
      buckets->emplace_back (dbucket, delay);
    else
      buckets->back ().second = std::max (buckets->back ().second, delay);
  }
  if (in_order)
    in_order_.emplace_back (now, delay);
  forget (now);

  // A packet whose delay the target covers does not raise the need (one
  // that left the window may lower it: update ()), and most do not: the
  // need is not worked out again for them.
  const int64_t alone = retransmitting (now) ? std::max (delay + delay / 5 + 2 * kMs,
      delay + s.interval + attempts_ * attempt (delay)) : delay + delay / 5 + 2 * kMs;
  if (clamp (alone) <= target_ms_)
    return false;
  const int64_t n = need (now);
  if (clamp (n) <= target_ms_)
    return false;
  const unsigned before = target_ms_;
  target_ms_ = clamp (with_headroom (n));
  below_since_ = -1;
  return target_ms_ != before;
}

void
PlayoutTarget::retransmissions (int64_t now, uint64_t lost_or_recovered, int64_t rtt)
{
  if (counted_ && lost_or_recovered > lost_or_recovered_)
    last_retransmission_ = now;
  counted_ = true;
  lost_or_recovered_ = lost_or_recovered;
  counts_.emplace_back (now, lost_or_recovered, packets_);
  while (std::get<0> (counts_.front ()) < now - kRetransmissionMemory)
    counts_.pop_front ();
  const auto &[since, lor_then, packets_then] = counts_.front ();
  (void) since;
  const uint64_t packets = packets_ - packets_then;
  const uint64_t needed = lost_or_recovered >= lor_then ? lost_or_recovered - lor_then : 0;
  // Room for as many attempts as it takes, with the same loss p on the way
  // back (the request, or the resent copy, is lost as often as anything:
  // an attempt fails with 1 - (1 - p)^2), for no more than 1 packet in 5000
  // to be lost for good: one attempt up to ~1% of the packets, two to ~3%,
  // three to ~7%, four to ~11%, at most five.
  // (One packet is no rate: a single loss leaves room for one attempt.)
  const double p = packets > 0 && needed >= 2 ? std::min (1.0, (double) needed / packets) : 0;
  const double fail = 1 - (1 - p) * (1 - p);
  attempts_ = 1;
  for (double lost = p * fail; attempts_ < kMaxAttempts && lost > kLostForGood; lost *= fail)
    attempts_++;
  // A new round trip (the jitterbuffers' average moved: retransmissions
  // arrived since the last call): less the delay that the media of the
  // last second met above their floor, which the retransmissions met too
  // (a queue at the bottleneck), as that comes and goes on its own.
  // The least of these over the last 10 s: that average comes down from
  // a queue's round trip by a sixteenth per retransmission, and each step
  // taken after the queue drained (less a queue no longer there) read as
  // a long round trip again.
  if (rtt > 0 && rtt != rtt_given_) {
    int64_t sum = 0, n = 0;
    for (auto it = in_order_.rbegin (); it != in_order_.rend () && it->first > now - kQueueSpan;
         ++it, n++)
      sum += it->second;
    rtts_.emplace_back (now, std::max<int64_t> (rtt - (n ? sum / n : 0), 0));
  }
  if (rtt > 0)
    rtt_given_ = rtt;
  while (rtts_.size () > 1 && rtts_.front ().first < now - kRetransmissionMemory)
    rtts_.pop_front ();
  if (!rtts_.empty ()) {
    rtt_ = rtts_.front ().second;
    for (const auto &[at, base] : rtts_)
      rtt_ = std::min (rtt_, base);
  }
}

int64_t
PlayoutTarget::attempt (int64_t delay) const
{
  return (rtt_ >= 0 ? rtt_ : kDefaultRtt) + delay + 10 * kMs;
}

bool
PlayoutTarget::retransmitting (int64_t now) const
{
  return last_retransmission_ >= 0 && now - last_retransmission_ < kRetransmissionMemory;
}

bool
PlayoutTarget::nack_safe (int64_t now)
{
  if (retransmitting (now))
    return true;
  forget (now);
  const int64_t d = largest (delays_);
  return min_ms_ > 0 && clamp (d + d / 5 + 2 * kMs) <= target_ms_;
}

unsigned
PlayoutTarget::delay_ms (int64_t now)
{
  forget (now);
  return (unsigned) (largest (delays_) / kMs);
}

unsigned
PlayoutTarget::in_order_delay_ms (int64_t now)
{
  forget (now);
  return (unsigned) (in_order_percentile (now, true) / kMs);
}

int64_t
PlayoutTarget::need (int64_t now)
{
  // The reordered packets and most of the in-order ones (the header says
  // why), with NACK on too (gaps only: rtcstreamsrc turns rtx-next-seqnum
  // off).
  const bool nack = retransmitting (now);
  const int64_t d = std::max (largest (reordered_), in_order_percentile (now));
  int64_t n = d + d / 5 + 2 * kMs;
  if (nack) {
    // The first attempt waits for the gap to show: up to a frame interval.
    int64_t interval = 0;
    for (const auto &[ssrc, st] : streams_)
      interval = std::max (interval, st.interval);
    n = std::max (n, d + interval + attempts_ * attempt (d));
  }
  return n;
}

unsigned
PlayoutTarget::update (int64_t now)
{
  forget (now);
  const int64_t n = need (now);
  const unsigned wanted = clamp (with_headroom (n));
  if (clamp (n) > target_ms_) {  // a rise not seen by packet () (retransmissions)
    target_ms_ = wanted;
    below_since_ = -1;
  } else if ((int64_t) clamp (n) * 4 < (int64_t) target_ms_ * 3 && wanted < target_ms_) {
    if (below_since_ < 0)
      below_since_ = now;
    else if (now - below_since_ >= kFallHold) {
      target_ms_ = wanted;
      below_since_ = -1;
    }
  } else {
    below_since_ = -1;
  }
  return target_ms_;
}

}  // namespace rtcstream
