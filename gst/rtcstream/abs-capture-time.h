// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The absolute capture time RTP header extension
// (http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time): each
// packet says when its frame was captured, on the sender's NTP clock, so a
// receiver whose clock agrees (the same host, or both NTP-synchronised) knows
// its true glass-to-glass latency. Chromium reads it into
// RTCRtpSynchronizationSource.captureTimestamp. GStreamer 1.22 has no
// implementation, so this is one, as a GstRTPHeaderExtension.
//
// The capture time travels through a pipeline as a GstReferenceTimestampMeta
// of caps "timestamp/x-ntp" (ns since 1900, as rtpbin's NTP metas): a
// payloader writes the meta of its input buffer; a depayloader puts the one
// it reads on its output. Video encoders, converters and decoders keep the
// meta (it has no tags).
//
// Wire format (8 bytes; 16 when followed by an estimated clock offset, which
// is read and ignored): | capture time, NTP UQ32.32 (64 bits) |
#pragma once

#include <gst/gst.h>
#include <gst/rtp/gstrtphdrext.h>

G_BEGIN_DECLS

#define RTCSTREAM_TYPE_ABS_CAPTURE_TIME_EXTENSION (rtcstream_abs_capture_time_extension_get_type ())
G_DECLARE_FINAL_TYPE (RtcstreamAbsCaptureTimeExtension, rtcstream_abs_capture_time_extension,
    RTCSTREAM, ABS_CAPTURE_TIME_EXTENSION, GstRTPHeaderExtension)

// Registers the extension as an element (factory "rtcstreamabscapturetime",
// class Network/Extension/RTPHeader with its URI). plugin may be NULL.
gboolean rtcstream_abs_capture_time_extension_register (GstPlugin *plugin);

G_END_DECLS

#ifdef __cplusplus
namespace rtcstream {

constexpr const char *kAbsCaptureTimeExtensionUri =
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time";
// The id rtcstreamsink offers it with (TWCC has 3, playout-delay 6).
constexpr guint kAbsCaptureTimeExtensionId = 7;
constexpr gsize kAbsCaptureTimeSize = 8;
// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
constexpr guint64 kNtpUnixOffsetS = 2208988800ull;

// The reference timestamp caps of capture times ("timestamp/x-ntp").
GstCaps *capture_time_caps ();
// The capture time (ns since 1900) a buffer carries, or GST_CLOCK_TIME_NONE.
GstClockTime buffer_capture_time (GstBuffer *buf);
// Puts ntp_ns (ns since 1900) on buf as its capture time.
void set_buffer_capture_time (GstBuffer *buf, GstClockTime ntp_ns);
// The wall clock now, in ns since 1900.
GstClockTime ntp_now ();

// Writes ntp_ns as NTP UQ32.32 into the 8 bytes at data.
void write_abs_capture_time (guint8 *data, GstClockTime ntp_ns);
// Reads it (ns since 1900); false when size is under 8 bytes.
bool read_abs_capture_time (const guint8 *data, gsize size, GstClockTime *ntp_ns);

}  // namespace rtcstream
#endif
