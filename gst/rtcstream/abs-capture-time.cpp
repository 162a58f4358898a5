// SPDX-License-Identifier: LGPL-2.1-or-later
#include "abs-capture-time.h"

GST_DEBUG_CATEGORY_STATIC (abs_capture_time_debug);
#define GST_CAT_DEFAULT abs_capture_time_debug

namespace rtcstream {

GstCaps *
capture_time_caps ()
{
  static GstCaps *caps = gst_caps_new_empty_simple ("timestamp/x-ntp");
  return caps;
}

GstClockTime
buffer_capture_time (GstBuffer *buf)
{
  GstReferenceTimestampMeta *meta = gst_buffer_get_reference_timestamp_meta (buf,
      capture_time_caps ());
  return meta ? meta->timestamp : GST_CLOCK_TIME_NONE;
}

void
set_buffer_capture_time (GstBuffer *buf, GstClockTime ntp_ns)
{
  gst_buffer_add_reference_timestamp_meta (buf, capture_time_caps (), ntp_ns,
      GST_CLOCK_TIME_NONE);
}

GstClockTime
ntp_now ()
{
  return static_cast<GstClockTime> (g_get_real_time ()) * GST_USECOND +
      kNtpUnixOffsetS * GST_SECOND;
}

void
write_abs_capture_time (guint8 *data, GstClockTime ntp_ns)
{
  const guint64 seconds = ntp_ns / GST_SECOND;
  // Rounded up, so that reading it back gives the same nanosecond.
  const guint64 fraction = (((ntp_ns % GST_SECOND) << 32) + GST_SECOND - 1) / GST_SECOND;
  GST_WRITE_UINT64_BE (data, (seconds << 32) | (fraction & 0xffffffffull));
}

bool
read_abs_capture_time (const guint8 *data, gsize size, GstClockTime *ntp_ns)
{
  if (size < kAbsCaptureTimeSize)
    return false;
  const guint64 v = GST_READ_UINT64_BE (data);
  const guint64 seconds = v >> 32, fraction = v & 0xffffffffull;
  *ntp_ns = seconds * GST_SECOND + ((fraction * GST_SECOND) >> 32);
  return true;
}

}  // namespace rtcstream

using namespace rtcstream;

struct _RtcstreamAbsCaptureTimeExtension {
  GstRTPHeaderExtension parent;
};

G_DEFINE_TYPE (RtcstreamAbsCaptureTimeExtension, rtcstream_abs_capture_time_extension,
    GST_TYPE_RTP_HEADER_EXTENSION)

namespace {

GstRTPHeaderExtensionFlags
supported_flags (GstRTPHeaderExtension *)
{
  return static_cast<GstRTPHeaderExtensionFlags> (GST_RTP_HEADER_EXTENSION_ONE_BYTE |
      GST_RTP_HEADER_EXTENSION_TWO_BYTE);
}

gsize
max_size (GstRTPHeaderExtension *, const GstBuffer *)
{
  return kAbsCaptureTimeSize;
}

// A payloader's streaming thread: on every packet of a frame that carries
// its capture time (nothing otherwise).
gssize
write (GstRTPHeaderExtension *ext, const GstBuffer *input, GstRTPHeaderExtensionFlags,
    GstBuffer *, guint8 *data, gsize size)
{
  g_return_val_if_fail (size >= kAbsCaptureTimeSize, -1);
  const GstClockTime t = buffer_capture_time (const_cast<GstBuffer *> (input));
  if (!GST_CLOCK_TIME_IS_VALID (t))
    return 0;
  write_abs_capture_time (data, t);
  GST_LOG_OBJECT (ext, "wrote capture time %" GST_TIME_FORMAT, GST_TIME_ARGS (t));
  return kAbsCaptureTimeSize;
}

// A depayloader's streaming thread: the capture time goes on its output.
gboolean
read (GstRTPHeaderExtension *ext, GstRTPHeaderExtensionFlags, const guint8 *data, gsize size,
    GstBuffer *buffer)
{
  GstClockTime t;
  if (!read_abs_capture_time (data, size, &t)) {
    GST_WARNING_OBJECT (ext, "an abs-capture-time extension of %" G_GSIZE_FORMAT
        " bytes (it has 8 or 16): ignored", size);
    return TRUE;  // a malformed extension does not drop the packet
  }
  if (!GST_CLOCK_TIME_IS_VALID (buffer_capture_time (buffer)))
    set_buffer_capture_time (buffer, t);
  return TRUE;
}

}  // namespace

static void
rtcstream_abs_capture_time_extension_class_init (RtcstreamAbsCaptureTimeExtensionClass *klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstRTPHeaderExtensionClass *ext_class = GST_RTP_HEADER_EXTENSION_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (abs_capture_time_debug, "rtcstream-abs-capture-time", 0,
      "rtcstream abs-capture-time RTP header extension");
  ext_class->get_supported_flags = supported_flags;
  ext_class->get_max_size = max_size;
  ext_class->write = write;
  ext_class->read = read;

  gst_element_class_set_static_metadata (element_class,
      "RTP absolute capture time header extension", GST_RTP_HDREXT_ELEMENT_CLASS,
      "When each frame was captured, on the sender's NTP clock (timestamp/x-ntp reference "
      "timestamp metas): a receiver with the same clock knows its glass-to-glass latency",
      "rtcstream developers");
  gst_rtp_header_extension_class_set_uri (ext_class, kAbsCaptureTimeExtensionUri);
}

static void
rtcstream_abs_capture_time_extension_init (RtcstreamAbsCaptureTimeExtension *)
{
}

gboolean
rtcstream_abs_capture_time_extension_register (GstPlugin *plugin)
{
  return gst_element_register (plugin, "rtcstreamabscapturetime", GST_RANK_MARGINAL,
      RTCSTREAM_TYPE_ABS_CAPTURE_TIME_EXTENSION);
}
