//! Domain records, one file per aggregate.

pub mod app;
pub mod callback;
pub mod category;
pub mod identity;
pub mod job;
pub mod media;
pub mod object;
pub mod refresh;
pub mod stream;
pub mod template;
pub mod template_change;
pub mod url_upload;

pub use app::{AppInfo, AppPolicyAttachment, AppStatus, AppType, IdentityType, SYSTEM_APP_POLICIES};
pub use callback::{CallbackType, MessageCallbackConfig};
pub use category::{Category, NewCategory};
pub use identity::{AccessKey, Account, KeyStatus, User};
pub use job::{Job, JobStatus, NewJob};
pub use media::{Media, MediaKey, MediaScope, MediaStatus, MediaType};
pub use object::{ManifestPart, MultipartUpload, ObjectType, StoredObject, UploadPart};
pub use stream::{MediaStream, Publication, SnapshotSet};
pub use template::{AudioSpec, TemplateGroup, TranscodeTemplate, VideoSpec};
pub use template_change::{GroupChange, GroupRefusal};
