"""An activity's contact number is personal data: move it into an encrypted column beside a
masked one (existing numbers are encrypted in place), like residents' phones."""

from django.db import migrations, models


def encrypt_existing(apps, schema_editor):
    from huzhu.common import crypto
    from huzhu.common.identity import mask_phone

    Activity = apps.get_model("activities", "Activity")
    for activity in Activity.objects.exclude(contact_phone="").only("pk", "contact_phone"):
        phone = activity.contact_phone.strip()
        Activity.objects.filter(pk=activity.pk).update(
            contact_phone_encrypted=crypto.encrypt(phone), contact_phone_masked=mask_phone(phone)
        )


def decrypt_back(apps, schema_editor):
    from huzhu.common import crypto

    Activity = apps.get_model("activities", "Activity")
    for activity in Activity.objects.exclude(contact_phone_encrypted=""):
        Activity.objects.filter(pk=activity.pk).update(
            contact_phone=crypto.decrypt(activity.contact_phone_encrypted)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("activities", "0004_alter_servicerecord_source"),
    ]

    operations = [
        migrations.AddField(
            model_name="activity",
            name="contact_phone_encrypted",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AddField(
            model_name="activity",
            name="contact_phone_masked",
            field=models.CharField(
                blank=True, editable=False, max_length=20, verbose_name="联系电话"
            ),
        ),
        migrations.RunPython(encrypt_existing, decrypt_back),
        migrations.RemoveField(model_name="activity", name="contact_phone"),
    ]
