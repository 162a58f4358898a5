// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The playout-delay RTP header extension
// (http://www.webrtc.org/experiments/rtp-hdrext/playout-delay): a sender
// tells the receiver the least and the most it should delay rendering, in
// 10 ms units. Chromium honours it; 0,0 makes it render every frame as soon
// as it is decoded, without smoothing. GStreamer 1.22 has no implementation,
// so this is one, as a GstRTPHeaderExtension: payloaders write it, and
// depayloaders read it (the last values read are its properties).
//
// Wire format (3 bytes, one-byte or two-byte header):
//   | MIN delay (12 bits) | MAX delay (12 bits) |   each in units of 10 ms
#pragma once

#include <gst/gst.h>
#include <gst/rtp/gstrtphdrext.h>

G_BEGIN_DECLS

#define RTCSTREAM_TYPE_PLAYOUT_DELAY_EXTENSION (rtcstream_playout_delay_extension_get_type ())
G_DECLARE_FINAL_TYPE (RtcstreamPlayoutDelayExtension, rtcstream_playout_delay_extension,
    RTCSTREAM, PLAYOUT_DELAY_EXTENSION, GstRTPHeaderExtension)

// Registers the extension as an element (factory "rtcstreamplayoutdelay", of
// class Network/Extension/RTPHeader with its URI), so that payloaders and
// depayloaders find it by URI (gst_rtp_header_extension_create_from_uri,
// their auto-header-extension). plugin may be NULL (a static registration,
// for programs that use the library without the plugin).
gboolean rtcstream_playout_delay_extension_register (GstPlugin *plugin);

G_END_DECLS

#ifdef __cplusplus
namespace rtcstream {

constexpr const char *kPlayoutDelayExtensionUri =
    "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay";
// The id rtcstreamsink offers it with (TWCC has 3).
constexpr guint kPlayoutDelayExtensionId = 6;
// Its payload size, and the largest delay it can carry (4095 x 10 ms).
constexpr gsize kPlayoutDelaySize = 3;
constexpr guint kPlayoutDelayMaxMs = 40950;

// Writes min and max (ms, rounded to the nearest 10 ms, at most
// kPlayoutDelayMaxMs) into the 3 bytes at data.
void write_playout_delay (guint8 *data, guint min_ms, guint max_ms);
// Reads them (ms) from data; false when size is under 3 bytes.
bool read_playout_delay (const guint8 *data, gsize size, guint *min_ms, guint *max_ms);

}  // namespace rtcstream
#endif
