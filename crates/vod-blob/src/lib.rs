//! vod-blob: the object-storage seam of vodstack.
//!
//! * [`BlobStore`] — immutable blobs on Apache OpenDAL: the local filesystem (default,
//!   `<data_dir>/objects`) or any S3-compatible store (`s3://bucket?endpoint=…`). A concrete
//!   type, not a trait: OpenDAL is the backend abstraction, and the [`contract`] suite runs
//!   the same code on every backend.
//! * [`ObjectStore`] — objects as the OSS endpoint (and later the media pipeline) sees them:
//!   single blobs or manifests of multipart part blobs, recorded through the `ObjectRepo`
//!   port of the metadata store.

pub mod contract;
mod fs_file;
pub mod objects;
pub mod range;
pub mod running_md5;
pub mod store;
pub mod writer;

pub use objects::{
    MAX_PART_SIZE, MAX_PARTS, MAX_PUT_SIZE, MIN_PART_SIZE, ObjectError, ObjectResult, ObjectStore, ObjectWrite,
    etag_of, normalize_etag,
};
pub use running_md5::{Md5Feed, RunningMd5};
pub use store::{BackendKind, BlobError, BlobMeta, BlobStore, ByteStream, WriteOutcome, mask};
pub use writer::{BlobWriter, Durability};

/// Environment variable naming the S3-compatible store the S3 contract runs use
/// (e.g. `s3://vodstack-test?endpoint=http://127.0.0.1:8333&region=us-east-1`).
pub const TEST_S3_URL_ENV: &str = "VODSTACK_TEST_S3_URL";
