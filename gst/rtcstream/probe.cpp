// SPDX-License-Identifier: LGPL-2.1-or-later
#include "probe.h"

#include <algorithm>

namespace rtcstream {

namespace {

// The cluster's rate (media and padding) as a multiple of the estimate.
constexpr double kProbeGain = 2.0;
// A probe needs at least this much room below max_bps.
constexpr double kMinRoom = 1.1;
// Sending less than this share of the estimate is app-limited.
constexpr double kAppLimited = 0.95;
// A link that received at this share of the send rate carried the cluster.
constexpr double kCarried = 0.9;
// A result is usable with this share of the cluster's packets arrived, and
// a receive rate at most this multiple of the send rate.
constexpr double kMinReceivedShare = 0.8;
constexpr double kMaxRatio = 2.0;
constexpr int64_t kMaxSpanUs = 1000000;
// A probe that carried counts as a success when its result is this much
// above the estimate it started from (else the link, or the estimator,
// found nothing new: back off).
constexpr double kMinGain = 1.2;
// Packets sent this long after the last padding packet still count (the
// padding goes out on rtprtxsend's own thread, a little later).
constexpr int64_t kSlackUs = 5000;
// A cluster without its feedback this long after it was sent is judged on
// what came; one that the sender never reported sent is dropped.
constexpr int64_t kFeedbackTimeoutUs = 2000000;
// A drop below this share of the highest estimate of kDropWindowUs.
constexpr double kDrop = 2.0 / 3;
constexpr int64_t kDropWindowUs = 10000000;
constexpr size_t kMaxWindowPackets = 4000;

}  // namespace

std::optional<BandwidthProbe::Plan>
BandwidthProbe::tick (const Link &link, uint32_t avg_packet_bytes, int64_t now_us)
{
  if (first_tick_us_ < 0)
    first_tick_us_ = now_us;
  if (link.congested)
    last_congested_us_ = now_us;

  // A cap-like drop: probe at the shortest interval again.
  while (!recent_.empty () && recent_.front ().first < now_us - kDropWindowUs)
    recent_.erase (recent_.begin ());
  recent_.emplace_back (now_us, link.estimate_bps);
  uint32_t highest = 0;
  for (auto &[at, bps] : recent_)
    highest = std::max (highest, bps);
  if (link.estimate_bps < kDrop * highest)
    interval_us_ = kIntervalUs;

  if (state_ == State::Sending && now_us - start_us_ > kFeedbackTimeoutUs)
    state_ = State::Idle;  // the sender never said it was sent
  if (state_ == State::Waiting && now_us - end_us_ > kFeedbackTimeoutUs)
    finish (judge (), now_us);
  if (state_ != State::Idle)
    return std::nullopt;

  const bool room = link.max_bps >= kMinRoom * link.estimate_bps;
  const bool app_limited = link.sent_bps < kAppLimited * link.estimate_bps;
  const int64_t quiet_since = std::max (last_congested_us_, first_tick_us_);
  const bool quiet = now_us - quiet_since >= kQuietUs;
  const bool due = last_probe_us_ < 0 || now_us - last_probe_us_ >= interval_us_;
  if (!room || !app_limited || !quiet || !due || link.estimate_bps == 0 || avg_packet_bytes == 0)
    return std::nullopt;

  Plan p;
  p.id = next_id_++;
  p.target_bps = (uint32_t) std::min<double> (kProbeGain * link.estimate_bps, link.max_bps);
  p.padding_bps = p.target_bps - std::min (link.sent_bps, link.estimate_bps);
  const uint32_t packet = std::max<uint32_t> (avg_packet_bytes, 100);  // (a floor for sanity)
  p.min_packets = kMinPackets;
  p.min_duration_us = std::max<int64_t> (kMinDurationUs,
      (int64_t) (kMinPackets * packet * 8 * 1e6 / p.padding_bps));
  p.max_bytes = std::min<uint64_t> ((uint64_t) (p.padding_bps * (p.min_duration_us / 1e6) / 8) +
      packet, (uint64_t) kMaxPackets * packet);

  state_ = State::Sending;
  id_ = p.id;
  start_us_ = end_us_ = now_us;
  plan_estimate_bps_ = link.estimate_bps;
  window_.clear ();
  covered_ = false;
  last_probe_us_ = now_us;
  probes_++;
  return p;
}

void
BandwidthProbe::on_sent (unsigned id, int64_t start_us, int64_t end_us, unsigned packets,
    uint64_t bytes)
{
  if (state_ != State::Sending || id != id_)
    return;
  if (packets == 0) {
    state_ = State::Idle;
    return;
  }
  padding_packets_ += packets;
  padding_bytes_ += bytes;
  start_us_ = start_us;
  end_us_ = std::max (end_us, start_us);
  state_ = State::Waiting;
  // What was collected since the plan: only the window counts.
  std::vector<PacketFeedback> kept;
  for (const PacketFeedback &p : window_) {
    if (p.send_us > end_us_ + kSlackUs)
      covered_ = true;
    else if (p.send_us >= start_us_)
      kept.push_back (p);
  }
  window_.swap (kept);
}

std::optional<BandwidthProbe::Result>
BandwidthProbe::on_feedback (const std::vector<PacketFeedback> &packets, int64_t now_us)
{
  if (state_ == State::Idle)
    return std::nullopt;
  for (const PacketFeedback &p : packets) {
    if (p.send_us < start_us_)
      continue;
    if (state_ == State::Waiting && p.send_us > end_us_ + kSlackUs)
      covered_ = true;
    else if (window_.size () < kMaxWindowPackets)
      window_.push_back (p);
  }
  if (state_ != State::Waiting || (!covered_ && now_us - end_us_ <= kFeedbackTimeoutUs))
    return std::nullopt;
  Result r = judge ();
  finish (r, now_us);
  return r;
}

BandwidthProbe::Result
BandwidthProbe::judge () const
{
  Result r;
  r.id = id_;
  r.packets = (unsigned) window_.size ();
  const PacketFeedback *first_send = nullptr, *last_send = nullptr, *first_recv = nullptr,
                       *last_recv = nullptr;
  uint64_t bytes = 0;
  unsigned received = 0;
  for (const PacketFeedback &p : window_) {
    if (p.recv_us < 0)
      continue;
    received++;
    bytes += p.size;
    if (!first_send || p.send_us < first_send->send_us)
      first_send = &p;
    if (!last_send || p.send_us >= last_send->send_us)
      last_send = &p;
    if (!first_recv || p.recv_us < first_recv->recv_us)
      first_recv = &p;
    if (!last_recv || p.recv_us >= last_recv->recv_us)
      last_recv = &p;
  }
  if (received < kMinPackets || received < kMinReceivedShare * window_.size ())
    return r;
  const int64_t send_span = last_send->send_us - first_send->send_us;
  const int64_t recv_span = last_recv->recv_us - first_recv->recv_us;
  if (send_span <= 0 || recv_span <= 0 || send_span > kMaxSpanUs || recv_span > kMaxSpanUs)
    return r;
  // (A span leaves out one packet's bytes: the last sent's, the first received's.)
  const double send_bps = (bytes - last_send->size) * 8 * 1e6 / send_span;
  const double recv_bps = (bytes - first_recv->size) * 8 * 1e6 / recv_span;
  if (recv_bps > kMaxRatio * send_bps)
    return r;
  r.valid = true;
  r.send_bps = (uint32_t) std::min (send_bps, 4e9);
  r.recv_bps = (uint32_t) std::min (recv_bps, 4e9);
  r.carried = recv_bps >= kCarried * send_bps;
  r.bps = r.carried ? std::min (r.send_bps, r.recv_bps) : 0;
  return r;
}

void
BandwidthProbe::finish (const Result &r, int64_t now_us)
{
  last_ = r;
  state_ = State::Idle;
  window_.clear ();
  if (r.carried && r.bps >= kMinGain * plan_estimate_bps_) {
    found_more_++;
    // The link took it all: the next one soon, from the new estimate.
    interval_us_ = kIntervalUs;
    last_probe_us_ = now_us - kIntervalUs + kAfterSuccessUs;
  } else {
    interval_us_ = std::min (interval_us_ * 2, kMaxIntervalUs);
    last_probe_us_ = now_us;
  }
}

}  // namespace rtcstream
